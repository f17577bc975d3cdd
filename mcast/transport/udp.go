package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Defaults for UDPConfig's zero fields.
const (
	DefaultPort       = 9000 // data on Port, control (requests, reports) on Port+1, as udpcast's portbase
	DefaultBufferSize = 16 << 20
	// rxCoalesce: after a short batch the reader waits this long before reading
	// again (far below every protocol timer; the socket buffer holds seconds).
	rxCoalesce         = 200 * time.Microsecond
	DefaultMaxDatagram = 9216 // room for jumbo frames
	defaultBatchSize   = 64
	defaultBatches     = 8
)

// DefaultGroup and DefaultGroup6 are the multicast groups used when none is
// configured: organisation-local scope (RFC 2365) and its IPv6 counterpart.
var (
	DefaultGroup  = netip.MustParseAddr("239.255.67.83")
	DefaultGroup6 = netip.MustParseAddr("ff15::4443:5343")
)

// ErrNotMulticast is returned for a group address that is not multicast.
var ErrNotMulticast = errors.New("not a multicast address")

// Role says which side of a session a transport serves; it decides which
// ports are read and where Send goes.
type Role int

const (
	// RoleSender reads the control port and sends to the data port.
	RoleSender Role = iota
	// RoleReceiver reads the data and control ports and sends to the control
	// port, where the sender and the other receivers hear it.
	RoleReceiver
)

// UDPConfig configures a UDP multicast transport. The zero value uses
// DefaultGroup, ports 9000/9001, TTL 1, loopback on (so a sender and
// receivers on one host work), 16 MiB socket buffers and the interface the
// routing table picks for the group.
type UDPConfig struct {
	Interface    string     // network interface to join and send on; "" = routing's choice
	Group        netip.Addr // data group; IPv6 when it is an IPv6 address
	ControlGroup netip.Addr // control ("rendezvous") group; zero = Group
	Port         int        // data port; control is Port+1
	TTL          int        // multicast TTL / hop limit; 0 = 1
	NoLoopback   bool       // don't deliver our own multicast to this host's sockets
	BufferSize   int        // socket send and receive buffers
	MaxDatagram  int        // largest datagram accepted
}

func (c UDPConfig) withDefaults() UDPConfig {
	if !c.Group.IsValid() {
		c.Group = DefaultGroup
	}
	if !c.ControlGroup.IsValid() {
		c.ControlGroup = c.Group
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.TTL == 0 {
		c.TTL = 1
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.MaxDatagram == 0 {
		c.MaxDatagram = DefaultMaxDatagram
	}
	return c
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
	Close() error
}

// UDP is a Transport over UDP multicast with batched system calls
// (recvmmsg and sendmmsg).
type UDP struct {
	readers []batchConn
	writer  batchConn
	dst     net.Addr

	in       chan *Batch
	free     chan *Batch
	wmsgs    []ipv4.Message
	closing  atomic.Bool
	done     chan struct{}
	doneOnce sync.Once
	err      error
	errOnce  sync.Once
	wg       sync.WaitGroup

	stats udpCounters
}

type udpCounters struct {
	rxPackets, rxBytes, rxCalls atomic.Int64
	txPackets, txBytes, txCalls atomic.Int64
	txRetries                   atomic.Int64
}

// Stats counts what a transport moved and how many system calls it
// took.
type Stats struct {
	RxPackets, RxBytes, RxCalls int64
	TxPackets, TxBytes, TxCalls int64
	TxRetries                   int64 // sends retried after ENOBUFS/EAGAIN
}

// ListenUDP opens the sockets a role needs and joins the groups.
func ListenUDP(role Role, cfg UDPConfig) (*UDP, error) {
	cfg = cfg.withDefaults()
	if !cfg.Group.IsMulticast() || !cfg.ControlGroup.IsMulticast() {
		return nil, fmt.Errorf("mcast: %v / %v: %w", cfg.Group, cfg.ControlGroup, ErrNotMulticast)
	}
	if cfg.Group.Is4() != cfg.ControlGroup.Is4() {
		return nil, fmt.Errorf("mcast: data group %v and control group %v mix IPv4 and IPv6", cfg.Group, cfg.ControlGroup)
	}
	var ifi *net.Interface
	if cfg.Interface != "" {
		var err error
		if ifi, err = net.InterfaceByName(cfg.Interface); err != nil {
			return nil, fmt.Errorf("mcast: interface %q: %w", cfg.Interface, err)
		}
	}
	t := &UDP{in: make(chan *Batch, defaultBatches), free: make(chan *Batch, defaultBatches*2),
		done: make(chan struct{})}
	data := netip.AddrPortFrom(cfg.Group, uint16(cfg.Port))
	ctl := netip.AddrPortFrom(cfg.ControlGroup, uint16(cfg.Port+1))
	listen := []netip.AddrPort{ctl}
	t.dst = net.UDPAddrFromAddrPort(data)
	if role == RoleReceiver {
		listen = []netip.AddrPort{data, ctl}
		t.dst = net.UDPAddrFromAddrPort(ctl)
	}
	for _, ap := range listen {
		c, err := openGroup(ap, ifi, cfg)
		if err != nil {
			t.closeConns()
			return nil, err
		}
		t.readers = append(t.readers, c)
	}
	w, err := openSender(cfg, ifi)
	if err != nil {
		t.closeConns()
		return nil, err
	}
	t.writer = w
	for range cap(t.free) {
		t.free <- newBatch(defaultBatchSize, cfg.MaxDatagram)
	}
	for _, r := range t.readers {
		t.wg.Add(1)
		go t.read(r)
	}
	go func() { t.wg.Wait(); close(t.in) }()
	return t, nil
}

// reuseAddr lets several processes on one host (a sender and receivers in one
// namespace) bind the same group and port; each gets every datagram.
func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}

func openGroup(ap netip.AddrPort, ifi *net.Interface, cfg UDPConfig) (batchConn, error) {
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: reuseAddr}
	// Binding the group address keeps other groups' traffic on the same port out.
	pc, err := lc.ListenPacket(context.Background(), network, ap.String())
	if err != nil {
		return nil, fmt.Errorf("mcast: listen %v: %w", ap, err)
	}
	setBuffers(pc.(*net.UDPConn), cfg.BufferSize)
	group := &net.UDPAddr{IP: ap.Addr().AsSlice()}
	if ap.Addr().Is4() {
		p := ipv4.NewPacketConn(pc)
		if err := p.JoinGroup(ifi, group); err != nil {
			pc.Close()
			return nil, fmt.Errorf("mcast: join %v: %w", ap.Addr(), err)
		}
		return p, nil
	}
	p := ipv6.NewPacketConn(pc)
	if err := p.JoinGroup(ifi, group); err != nil {
		pc.Close()
		return nil, fmt.Errorf("mcast: join %v: %w", ap.Addr(), err)
	}
	return p, nil
}

func openSender(cfg UDPConfig, ifi *net.Interface) (batchConn, error) {
	network, any := "udp4", "0.0.0.0:0"
	if cfg.Group.Is6() {
		network, any = "udp6", "[::]:0"
	}
	pc, err := net.ListenPacket(network, any)
	if err != nil {
		return nil, fmt.Errorf("mcast: send socket: %w", err)
	}
	setBuffers(pc.(*net.UDPConn), cfg.BufferSize)
	var errs []error
	if cfg.Group.Is4() {
		p := ipv4.NewPacketConn(pc)
		errs = append(errs, p.SetMulticastTTL(cfg.TTL), p.SetMulticastLoopback(!cfg.NoLoopback))
		if ifi != nil {
			errs = append(errs, p.SetMulticastInterface(ifi))
		}
		if err := errors.Join(errs...); err != nil {
			pc.Close()
			return nil, fmt.Errorf("mcast: send socket options: %w", err)
		}
		return p, nil
	}
	p := ipv6.NewPacketConn(pc)
	errs = append(errs, p.SetMulticastHopLimit(cfg.TTL), p.SetMulticastLoopback(!cfg.NoLoopback))
	if ifi != nil {
		errs = append(errs, p.SetMulticastInterface(ifi))
	}
	if err := errors.Join(errs...); err != nil {
		pc.Close()
		return nil, fmt.Errorf("mcast: send socket options: %w", err)
	}
	return p, nil
}

// setBuffers asks for big socket buffers: a receiver that is busy writing a
// chunk to disk must not lose the packets that arrive meanwhile. The FORCE
// options pass rmem_max/wmem_max when we have CAP_NET_ADMIN; otherwise the
// plain ones get what the limits allow.
func setBuffers(c *net.UDPConn, size int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, size)
		}
	})
}

func (t *UDP) read(c batchConn) {
	defer t.wg.Done()
	for {
		var b *Batch
		select {
		case b = <-t.free:
		case <-t.done:
			return
		}
		n, err := c.ReadBatch(b.msgs, 0)
		if err != nil {
			if !t.closing.Load() {
				t.fail(fmt.Errorf("mcast: receive: %w", err))
			}
			return
		}
		b.Pkts = b.Pkts[:0]
		var bytes int64
		for i := range n {
			b.Pkts = append(b.Pkts, b.bufs[i][:b.msgs[i].N])
			bytes += int64(b.msgs[i].N)
		}
		t.stats.rxCalls.Add(1)
		t.stats.rxPackets.Add(int64(n))
		t.stats.rxBytes.Add(bytes)
		select {
		case t.in <- b:
		case <-t.done:
			return
		}
		if n < len(b.msgs)/4 {
			// A short batch: the socket was nearly empty. Let a few more datagrams
			// gather before the next read; a wake-up per two or three packets costs
			// the receiver more CPU than the data does.
			ts := unix.NsecToTimespec(int64(rxCoalesce))
			_ = unix.Nanosleep(&ts, nil)
		}
	}
}

func (t *UDP) fail(err error) {
	t.errOnce.Do(func() { t.err = err })
	t.closing.Store(true)
	t.closeConns()
}

// Incoming implements Transport.
func (t *UDP) Incoming() <-chan *Batch { return t.in }

// Release implements Transport.
func (t *UDP) Release(b *Batch) {
	select {
	case t.free <- b:
	default:
	}
}

// Send implements Transport with sendmmsg. A full queue (ENOBUFS, EAGAIN) is
// waited out rather than reported: pacing above us decides the rate.
func (t *UDP) Send(pkts [][]byte) error {
	for len(pkts) > 0 {
		n := min(len(pkts), defaultBatchSize)
		if cap(t.wmsgs) < n {
			t.wmsgs = make([]ipv4.Message, defaultBatchSize)
			for i := range t.wmsgs {
				t.wmsgs[i].Buffers = make([][]byte, 1)
			}
		}
		ms := t.wmsgs[:n]
		var bytes int64
		for i, p := range pkts[:n] {
			ms[i].Buffers[0] = p
			ms[i].Addr = t.dst
			bytes += int64(len(p))
		}
		sent, err := t.writer.WriteBatch(ms, 0)
		t.stats.txCalls.Add(1)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
				t.stats.txRetries.Add(1)
				time.Sleep(100 * time.Microsecond)
				continue
			}
			return fmt.Errorf("mcast: send to %v: %w", t.dst, err)
		}
		for _, p := range pkts[:sent] {
			t.stats.txBytes.Add(int64(len(p)))
		}
		t.stats.txPackets.Add(int64(sent))
		pkts = pkts[sent:]
	}
	return nil
}

// Err implements Transport.
func (t *UDP) Err() error {
	if !t.closing.Load() {
		return nil
	}
	return t.err
}

// Close implements Transport.
func (t *UDP) Close() error {
	t.closing.Store(true)
	t.closeConns()
	return nil
}

func (t *UDP) closeConns() {
	t.doneOnce.Do(func() { close(t.done) })
	for _, c := range t.readers {
		c.Close()
	}
	if t.writer != nil {
		t.writer.Close()
	}
}

// Stats returns the transport's counters.
func (t *UDP) Stats() Stats {
	return Stats{
		RxPackets: t.stats.rxPackets.Load(), RxBytes: t.stats.rxBytes.Load(), RxCalls: t.stats.rxCalls.Load(),
		TxPackets: t.stats.txPackets.Load(), TxBytes: t.stats.txBytes.Load(), TxCalls: t.stats.txCalls.Load(),
		TxRetries: t.stats.txRetries.Load(),
	}
}
