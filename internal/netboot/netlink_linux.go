package netboot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A small rtnetlink client: the three requests init needs (link up, add
// an address, add a route), each answered by the kernel's ACK. A library
// would bring far more than this.

var nlSeq atomic.Uint32

func nlRequest(typ uint16, flags uint16, body []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	seq := nlSeq.Add(1)
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	msg = append(msg, body...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink: short error message")
			}
			if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
				return unix.Errno(-e)
			}
			return nil
		}
	}
}

func nlAttr(b []byte, typ uint16, val []byte) []byte {
	l := unix.SizeofRtAttr + len(val)
	a := make([]byte, unix.SizeofRtAttr, (l+3)&^3)
	binary.NativeEndian.PutUint16(a[0:], uint16(l))
	binary.NativeEndian.PutUint16(a[2:], typ)
	a = append(a, val...)
	for len(a)%4 != 0 {
		a = append(a, 0)
	}
	return append(b, a...)
}

// linkUp sets IFF_UP on the interface.
func linkUp(ifindex int) error {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	binary.NativeEndian.PutUint32(b[8:], unix.IFF_UP)  // flags
	binary.NativeEndian.PutUint32(b[12:], unix.IFF_UP) // change mask
	return nlRequest(unix.RTM_NEWLINK, 0, b)
}

// addAddr adds p to the interface with its broadcast address, which
// receivers of multicast sessions and DHCP servers expect to be there.
func addAddr(ifindex int, p netip.Prefix) error {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	b[1] = byte(p.Bits())
	b[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	a := p.Addr().As4()
	b = nlAttr(b, unix.IFA_LOCAL, a[:])
	b = nlAttr(b, unix.IFA_ADDRESS, a[:])
	brd := broadcast(p)
	b = nlAttr(b, unix.IFA_BROADCAST, brd[:])
	err := nlRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, b)
	return err
}

func broadcast(p netip.Prefix) [4]byte {
	a := p.Addr().As4()
	m := net.CIDRMask(p.Bits(), 32)
	for i := range a {
		a[i] |= ^m[i]
	}
	return a
}

// addRoute adds a route to dst via gw (invalid: on the link).
func addRoute(ifindex int, dst netip.Prefix, gw netip.Addr) error {
	b := make([]byte, unix.SizeofRtMsg)
	b[0] = unix.AF_INET
	b[1] = byte(dst.Bits())
	b[4] = unix.RT_TABLE_MAIN
	b[5] = unix.RTPROT_BOOT
	b[6] = unix.RT_SCOPE_LINK
	b[7] = unix.RTN_UNICAST
	if gw.IsValid() {
		b[6] = unix.RT_SCOPE_UNIVERSE
		g := gw.As4()
		b = nlAttr(b, unix.RTA_GATEWAY, g[:])
	}
	if dst.Bits() > 0 {
		d := dst.Addr().As4()
		b = nlAttr(b, unix.RTA_DST, d[:])
	}
	var oif [4]byte
	binary.NativeEndian.PutUint32(oif[:], uint32(ifindex))
	b = nlAttr(b, unix.RTA_OIF, oif[:])
	err := nlRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, b)
	return err
}
