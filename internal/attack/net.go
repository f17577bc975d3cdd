package attack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Datagram is one packet heard on the group, or one to send. Port is the
// offset from the session's port base: 0 data (sender → group), 1 control
// (receivers → group).
type Datagram struct {
	Port int
	At   time.Time
	B    []byte
}

// Net is the attacker's view of the group: it hears both ports and sends
// to either.
type Net interface {
	Recv() <-chan Datagram
	Send(port int, b []byte) error
	Close() error
}

// CheckPrivate refuses to run anywhere but a private test network: the
// process must not be in the machine's initial network namespace, and the
// interface must carry an address of 198.18.0.0/15 (the range
// internal/testnet uses) or be a namespace's own loopback.
func CheckPrivate(iface string) error {
	if !inTestNamespace() {
		return errors.New("attack: refusing to run outside a named test network namespace (ip netns exec ...)")
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("attack: interface %q: %w", iface, err)
	}
	if ifi.Flags&net.FlagLoopback != 0 {
		return nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return err
	}
	testRange := netip.MustParsePrefix("198.18.0.0/15")
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && testRange.Contains(p.Addr()) {
			return nil
		}
	}
	return fmt.Errorf("attack: interface %s has no address in %v: refusing to send", iface, testRange)
}

// inTestNamespace reports whether this process's network namespace is one
// made with `ip netns add` (bound under /run/netns), or at least provably
// not the initial one.
func inTestNamespace() bool {
	var self unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &self) != nil {
		return false
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			var st unix.Stat_t
			if unix.Stat("/run/netns/"+e.Name(), &st) == nil && st.Dev == self.Dev && st.Ino == self.Ino {
				return true
			}
		}
	}
	a, err1 := os.Readlink("/proc/self/ns/net")
	b, err2 := os.Readlink("/proc/1/ns/net")
	return err1 == nil && err2 == nil && a != b
}

type udpNet struct {
	in      chan Datagram
	readers []*ipv4.PacketConn
	w       *ipv4.PacketConn
	dst     [2]*net.UDPAddr
	cancel  context.CancelFunc
}

// ListenGroup joins group on port and port+1 on the interface and opens a
// sending socket (TTL 1, no loopback). IPv4 only.
func ListenGroup(iface string, group netip.Addr, port int) (Net, error) {
	if !group.Is4() || !group.IsMulticast() {
		return nil, fmt.Errorf("attack: %v is not an IPv4 multicast group", group)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	u := &udpNet{in: make(chan Datagram, 65536)}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
			}
		})
		return errors.Join(err, serr)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	for off := range 2 {
		ap := netip.AddrPortFrom(group, uint16(port+off))
		u.dst[off] = net.UDPAddrFromAddrPort(ap)
		pc, err := lc.ListenPacket(ctx, "udp4", ap.String())
		if err != nil {
			u.Close()
			return nil, err
		}
		p := ipv4.NewPacketConn(pc)
		if err := p.JoinGroup(ifi, &net.UDPAddr{IP: group.AsSlice()}); err != nil {
			pc.Close()
			u.Close()
			return nil, err
		}
		u.readers = append(u.readers, p)
		go u.read(p, off)
	}
	pc, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		u.Close()
		return nil, err
	}
	if c, ok := pc.(*net.UDPConn); ok {
		_ = c.SetWriteBuffer(8 << 20)
	}
	u.w = ipv4.NewPacketConn(pc)
	if err := errors.Join(u.w.SetMulticastTTL(1), u.w.SetMulticastLoopback(false), u.w.SetMulticastInterface(ifi)); err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

func (u *udpNet) read(p *ipv4.PacketConn, port int) {
	for {
		buf := make([]byte, 9216)
		n, _, _, err := p.ReadFrom(buf)
		if err != nil {
			return
		}
		select {
		case u.in <- Datagram{Port: port, At: time.Now(), B: buf[:n:n]}:
		default: // the attacker fell behind: a lost packet, as on any host
		}
	}
}

func (u *udpNet) Recv() <-chan Datagram { return u.in }

func (u *udpNet) Send(port int, b []byte) error {
	for try := 0; ; try++ {
		_ = u.w.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := u.w.WriteTo(b, nil, u.dst[port&1])
		if (errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN)) && try < 20 {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		return err
	}
}

func (u *udpNet) Close() error {
	u.cancel()
	for _, r := range u.readers {
		r.Close()
	}
	if u.w != nil {
		u.w.Close()
	}
	return nil
}
