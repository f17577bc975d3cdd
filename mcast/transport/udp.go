package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/discuscast/discus/internal/udpoff"
)

// Defaults for UDPConfig's zero fields.
const (
	DefaultPort       = 9000 // data on Port, control (requests, reports) on Port+1, as udpcast's portbase
	defaultBufferSize = 16 << 20
	// rxCoalesce: after a short batch the reader waits this long before reading
	// again (far below every protocol timer; the socket buffer holds seconds).
	rxCoalesce         = 200 * time.Microsecond
	defaultMaxDatagram = 9216 // room for jumbo frames
	defaultBatchSize   = 64
	defaultBatches     = 8
	// With GRO a read may hold up to 64 merged datagrams: fewer, larger buffers.
	groBatchSize = 32
	groBufSize   = 1 << 16
	groBatches   = 4
)

// Environment switches for the offloads (benchmarks, and a way out on a path that
// accepts them but mangles the result): DISCUS_NO_GSO=1 sends plain datagrams,
// DISCUS_NO_GRO=1 reads them one by one, whatever UDPConfig says.
const (
	EnvNoGSO = "DISCUS_NO_GSO"
	EnvNoGRO = "DISCUS_NO_GRO"
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
	noLoopback   bool       // don't deliver our own multicast to this host's sockets
	bufferSize   int        // socket send and receive buffers
	maxDatagram  int        // largest datagram accepted
	// NoGSO sends every datagram as a message of its own instead of grouping
	// consecutive datagrams of one size into UDP GSO buffers; NoGRO reads
	// datagrams one by one instead of asking the kernel to merge them (UDP GRO).
	// Both offloads fall back to plain datagrams by themselves when the kernel
	// refuses them; the bytes on the wire are the same either way.
	NoGSO, NoGRO bool
	// RecvPool bounds the bytes of the buffers kept for reading (0 = the default:
	// 16 MiB with GRO, 9 MiB without): a receiver short of memory reads in smaller
	// batches and leaves the backlog in the socket buffer.
	RecvPool int
	Logger   *slog.Logger // where the one-time fallback notices go; nil = slog.Default()
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
	if c.bufferSize == 0 {
		c.bufferSize = defaultBufferSize
	}
	if c.maxDatagram == 0 {
		c.maxDatagram = defaultMaxDatagram
	}
	if os.Getenv(EnvNoGSO) != "" {
		c.NoGSO = true
	}
	if os.Getenv(EnvNoGRO) != "" {
		c.NoGRO = true
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
// (GRO is enabled on the *net.UDPConn before it is wrapped.)
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
	Close() error
}

// UDP is a Transport over UDP multicast with batched system calls (recvmmsg and
// sendmmsg) and, where the kernel offers them, UDP segmentation offloads: Send puts
// each run of consecutive datagrams of one size into one GSO buffer (one message of
// the sendmmsg batch, with a UDP_SEGMENT control message), and the reading sockets
// take merged reads (UDP_GRO) that are split back into datagrams without a copy.
type UDP struct {
	readers []batchConn
	writer  batchConn
	dst     net.Addr
	log     *slog.Logger

	in       chan *Batch
	free     chan *Batch
	wmsgs    []ipv4.Message
	wsegs    []int    // per message of wmsgs: datagrams in it
	woob     [][]byte // per message: room for a UDP_SEGMENT control message
	wscratch [][]byte // per message: a GSO buffer for runs that are not contiguous
	gso      bool     // GSO on for sends (only the owner loop sends)
	gro      bool     // reads may be merged
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
	gsoBuffers, gsoDatagrams    atomic.Int64
	groReads, groDatagrams      atomic.Int64
	gsoFallbacks, groFallbacks  atomic.Int64
}

// Stats counts what a transport moved and how many system calls it
// took. Packets are datagrams on the wire, whatever the offloads merged.
type Stats struct {
	RxPackets, RxBytes, RxCalls int64
	TxPackets, TxBytes, TxCalls int64
	TxRetries                   int64 // sends retried after ENOBUFS/EAGAIN
	// GSOBuffers is the GSO buffers sent (messages of more than one datagram),
	// GSODatagrams the datagrams they held; GROReads the merged reads received,
	// GRODatagrams the datagrams split out of them.
	GSOBuffers, GSODatagrams int64
	GROReads, GRODatagrams   int64
	// GSOFallbacks and GROFallbacks count the offloads the kernel refused (at
	// most one each per socket): the transport then moved plain datagrams.
	GSOFallbacks, GROFallbacks int64
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
	t := &UDP{done: make(chan struct{}), log: cfg.Logger, gso: !cfg.NoGSO}
	data := netip.AddrPortFrom(cfg.Group, uint16(cfg.Port))
	ctl := netip.AddrPortFrom(cfg.ControlGroup, uint16(cfg.Port+1))
	listen := []netip.AddrPort{ctl}
	t.dst = net.UDPAddrFromAddrPort(data)
	if role == RoleReceiver {
		listen = []netip.AddrPort{data, ctl}
		t.dst = net.UDPAddrFromAddrPort(ctl)
	}
	groRefused := 0
	for _, ap := range listen {
		c, gro, err := openGroup(ap, ifi, cfg)
		if err != nil {
			t.closeConns()
			return nil, err
		}
		t.readers = append(t.readers, c)
		if gro {
			t.gro = true
		} else if !cfg.NoGRO {
			groRefused++
		}
	}
	if groRefused > 0 {
		t.stats.groFallbacks.Add(int64(groRefused))
		t.log.Info("mcast: the kernel refuses UDP GRO; reading datagrams one by one")
	}
	// Every batch has one shape, so the readers can share the pool.
	nb, size, depth := defaultBatchSize, cfg.maxDatagram, defaultBatches
	if t.gro {
		nb, size, depth = groBatchSize, max(groBufSize, cfg.maxDatagram), groBatches
	}
	var pool int
	nb, pool = poolShape(nb, size, depth*2, cfg.RecvPool)
	t.in, t.free = make(chan *Batch, max(pool/2, 1)), make(chan *Batch, pool)
	w, err := openSender(cfg, ifi)
	if err != nil {
		t.closeConns()
		return nil, err
	}
	t.writer = w
	for range cap(t.free) {
		t.free <- newBatch(nb, size, t.gro)
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

// openGroup opens a reading socket on a group; gro says whether it takes merged
// reads.
func openGroup(ap netip.AddrPort, ifi *net.Interface, cfg UDPConfig) (c batchConn, gro bool, err error) {
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: reuseAddr}
	// Binding the group address keeps other groups' traffic on the same port out.
	pc, err := lc.ListenPacket(context.Background(), network, ap.String())
	if err != nil {
		return nil, false, fmt.Errorf("mcast: listen %v: %w", ap, err)
	}
	setBuffers(pc.(*net.UDPConn), cfg.bufferSize)
	if !cfg.NoGRO {
		if rc, err := pc.(*net.UDPConn).SyscallConn(); err == nil {
			gro = udpoff.EnableGRO(rc) == nil
		}
	}
	group := &net.UDPAddr{IP: ap.Addr().AsSlice()}
	if ap.Addr().Is4() {
		p := ipv4.NewPacketConn(pc)
		if err := p.JoinGroup(ifi, group); err != nil {
			pc.Close()
			return nil, false, fmt.Errorf("mcast: join %v: %w", ap.Addr(), err)
		}
		return p, gro, nil
	}
	p := ipv6.NewPacketConn(pc)
	if err := p.JoinGroup(ifi, group); err != nil {
		pc.Close()
		return nil, false, fmt.Errorf("mcast: join %v: %w", ap.Addr(), err)
	}
	return p, gro, nil
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
	setBuffers(pc.(*net.UDPConn), cfg.bufferSize)
	var errs []error
	if cfg.Group.Is4() {
		p := ipv4.NewPacketConn(pc)
		errs = append(errs, p.SetMulticastTTL(cfg.TTL), p.SetMulticastLoopback(!cfg.noLoopback))
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
	errs = append(errs, p.SetMulticastHopLimit(cfg.TTL), p.SetMulticastLoopback(!cfg.noLoopback))
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
		b.Pkts, b.Froms = b.Pkts[:0], b.Froms[:0]
		var bytes, merged, mergedPkts int64
		for i := range n {
			m := &b.msgs[i]
			p := b.bufs[i][:m.N]
			from := addrPort(m.Addr)
			bytes += int64(m.N)
			seg := 0
			if t.gro && m.NN > 0 {
				seg = udpoff.GROSize(m.OOB[:m.NN])
			}
			if seg <= 0 || seg >= len(p) {
				b.Pkts, b.Froms = append(b.Pkts, p), append(b.Froms, from)
				continue
			}
			// A merged read: its datagrams alias the buffer, no copy.
			merged++
			for len(p) > 0 {
				k := min(seg, len(p))
				b.Pkts, b.Froms = append(b.Pkts, p[:k:k]), append(b.Froms, from)
				p = p[k:]
				mergedPkts++
			}
		}
		t.stats.rxCalls.Add(1)
		t.stats.rxPackets.Add(int64(n) - merged + mergedPkts)
		t.stats.rxBytes.Add(bytes)
		if merged > 0 {
			t.stats.groReads.Add(merged)
			t.stats.groDatagrams.Add(mergedPkts)
		}
		got := len(b.Pkts) // b is the consumer's once sent: another reader may reuse it
		select {
		case t.in <- b:
		case <-t.done:
			return
		}
		if got < defaultBatchSize/4 {
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
		TxRetries:  t.stats.txRetries.Load(),
		GSOBuffers: t.stats.gsoBuffers.Load(), GSODatagrams: t.stats.gsoDatagrams.Load(),
		GROReads: t.stats.groReads.Load(), GRODatagrams: t.stats.groDatagrams.Load(),
		GSOFallbacks: t.stats.gsoFallbacks.Load(), GROFallbacks: t.stats.groFallbacks.Load(),
	}
}

// addrPort is a received message's source address (zero when unknown).
func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
