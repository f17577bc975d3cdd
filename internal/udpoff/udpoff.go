// Package udpoff holds the Linux UDP segmentation offloads a transport uses to move
// many equal-size datagrams in one system call and one trip through the stack:
//
//   - GSO (UDP_SEGMENT, Linux 4.18): the sender hands the kernel one buffer of up
//     to 64 datagrams of the same size (the last may be shorter) with a control
//     message giving that size; the kernel, or the NIC, cuts it into datagrams on
//     the wire. Each datagram stays an ordinary, unfragmented UDP datagram.
//   - GRO (UDP_GRO, Linux 5.0): a receiving socket that enables it may get several
//     consecutive datagrams of one flow merged into one read, with a control
//     message giving the segment size to cut them apart again.
//
// Both are optional: a kernel or NIC that refuses them (EINVAL, EIO, ENOPROTOOPT)
// leaves the caller on plain datagrams, and nothing on the wire differs.
package udpoff

import (
	"encoding/binary"
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxSegments is the most datagrams one GSO buffer may hold (the kernel's
// UDP_MAX_SEGMENTS is 64 on older kernels, 128 on newer: the smaller is safe).
const MaxSegments = 64

// MaxBuffer is the most bytes one GSO buffer may hold: an IP datagram's 64 KiB
// less the largest IPv6 and UDP headers.
const MaxBuffer = 65535 - 40 - 8

// SegmentOOB returns the control message that asks the kernel to cut a buffer into
// datagrams of size bytes (cmsg SOL_UDP / UDP_SEGMENT, a uint16).
func SegmentOOB(size int) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

// GROOOBSpace is the control buffer a read needs to learn a merged read's segment
// size.
var GROOOBSpace = unix.CmsgSpace(4)

// EnableGRO asks the kernel to merge datagrams for the socket behind rc. An error
// means the kernel does not offer it; the socket then reads datagrams one by one.
func EnableGRO(rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return err
	}
	return serr
}

// GROSize returns the segment size a merged read carries in its control messages,
// or 0 when the read holds one datagram.
func GROSize(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_UDP && m.Header.Type == unix.UDP_GRO && len(m.Data) >= 2 {
			// The kernel writes an int; its low 16 bits hold the size on every
			// byte order that matters here (the value is below 65536).
			if len(m.Data) >= 4 {
				return int(binary.NativeEndian.Uint32(m.Data))
			}
			return int(binary.NativeEndian.Uint16(m.Data))
		}
	}
	return 0
}

// Split calls f with each datagram of a read of n bytes merged from segments of
// seg bytes (the last may be shorter); seg 0 means one datagram.
func Split(b []byte, seg int, f func([]byte)) {
	if seg <= 0 || seg >= len(b) {
		f(b)
		return
	}
	for len(b) > 0 {
		n := min(seg, len(b))
		f(b[:n:n])
		b = b[n:]
	}
}

// Refused reports whether a send error means the path cannot do GSO (so the
// caller should fall back to plain datagrams) rather than a real failure: EIO (a
// device without checksum offload), EINVAL, ENOPROTOOPT, EOPNOTSUPP (no GSO), and
// EMSGSIZE (segments larger than the path's MTU, which GSO never fragments).
func Refused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOPROTOOPT) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EMSGSIZE)
}

// Runs groups packets for GSO: it calls f with each run of consecutive packets of
// one size (the last of a run may be shorter, as GSO allows), at most MaxSegments
// packets and MaxBuffer bytes each. A run of one is a plain datagram.
func Runs(pkts [][]byte, f func(run [][]byte, seg int)) {
	for len(pkts) > 0 {
		seg := len(pkts[0])
		n, total := 1, seg
		for n < len(pkts) && n < MaxSegments && total+len(pkts[n]) <= MaxBuffer {
			l := len(pkts[n])
			if l > seg {
				break
			}
			total += l
			n++
			if l < seg {
				break // a shorter packet ends the run
			}
		}
		f(pkts[:n], seg)
		pkts = pkts[n:]
	}
}

// PutSegment writes the UDP_SEGMENT control message for size bytes into b, which
// must hold SegmentSpace bytes, and returns b[:SegmentSpace] (no allocation: a sender
// keeps one such buffer per message of its batch).
func PutSegment(b []byte, size int) []byte {
	b = b[:SegmentSpace]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

// SegmentSpace is the size of a UDP_SEGMENT control message.
var SegmentSpace = unix.CmsgSpace(2)
