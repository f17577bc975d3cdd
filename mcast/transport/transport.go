package transport

import (
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/discuscast/discus/internal/udpoff"
)

// Transport is the I/O seam between the protocol's state machines and a
// network. The UDP implementation is UDP; tests may plug in their
// own. A Transport reads on goroutines of its own and hands datagrams over in
// batches, so the owner loop never blocks in a read syscall and can keep
// pacing its sends.
type Transport interface {
	// Incoming delivers batches of received datagrams. The channel is closed
	// when the transport is closed or fails; Err then tells why.
	Incoming() <-chan *Batch
	// Release returns a batch's buffers once its datagrams are handled.
	Release(*Batch)
	// Send sends the datagrams to the transport's destination, in order. The
	// caller owns pkts and may reuse them once Send returns. Datagrams laid out
	// back to back in one array (Drive does so) let the UDP transport hand runs
	// of them to the kernel as one GSO buffer without copying.
	Send(pkts [][]byte) error
	// Err reports why Incoming was closed, nil after a plain Close.
	Err() error
	Close() error
}

// Batch is a group of received datagrams. Pkts alias the transport's
// buffers and are valid until the batch is released.
type Batch struct {
	Pkts [][]byte
	// Froms, when as long as Pkts, holds each datagram's source address: the
	// sender's table of receivers shows where each one is (a transport that
	// cannot tell leaves it empty).
	Froms []netip.AddrPort

	bufs [][]byte
	msgs []ipv4.Message // ipv4.Message and ipv6.Message are the same type
}

// newBatch makes a batch of n messages of size bytes; gro gives each room for the
// segment-size control message of a merged read.
func newBatch(n, size int, gro bool) *Batch {
	pk := n
	if gro {
		pk = n * udpoff.MaxSegments
	}
	b := &Batch{Pkts: make([][]byte, 0, pk), Froms: make([]netip.AddrPort, 0, pk), bufs: make([][]byte, n), msgs: make([]ipv4.Message, n)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, size)
		b.msgs[i].Buffers = [][]byte{b.bufs[i]}
		if gro {
			b.msgs[i].OOB = make([]byte, udpoff.GROOOBSpace)
		}
	}
	return b
}
