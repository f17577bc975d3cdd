package mcast

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// Machine is a protocol state machine as the owner loop sees it: Sender and
// Receiver are Machines. It never blocks, owns no goroutine or timer, and
// learns the time only from its arguments.
type Machine interface {
	Handle(pkt []byte, now time.Time)
	Poll(now time.Time, emit func(pkt []byte)) (next time.Time)
}

// OnWire returns m (a *Sender or *Receiver) as it speaks on a network: every packet it
// emits gets its trailer (a CRC-32C, or with the config's Key an authentication
// trailer) and every packet handed to it is checked and stripped of its trailer first,
// so the state machine itself only ever sees packets without one. Drive and the
// sessions (Send, ReceiveImage) use it; a simulation may drive the bare machines.
func OnWire(m Machine) (Machine, error) {
	w := &wired{m: m}
	var err error
	switch m := m.(type) {
	case *Sender:
		w.f, err = wire.NewFramer(m.cfg.Key, m.hdr.Node, true, m.NodeID, m.drop)
	case *Receiver:
		w.f, err = wire.NewFramer(m.cfg.Key, m.hdr.Node, false, m.outEpoch, m.drop)
	default:
		return nil, fmt.Errorf("%w: OnWire takes a *Sender or *Receiver, not %T", ErrConfig, m)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	w.emitFn = w.emit
	w.fm, _ = m.(FromMachine)
	return w, nil
}

// FromMachine is a Machine that also takes each datagram's source address (the
// Sender: its table of receivers shows where each one is, ReceiverInfo.Addr). Drive
// uses it when the transport knows the addresses.
type FromMachine interface {
	Machine
	HandleFrom(pkt []byte, from netip.AddrPort, now time.Time)
}

type wired struct {
	m      Machine
	fm     FromMachine // m, if it takes source addresses
	f      *wire.Framer
	out    func([]byte)
	now    time.Time
	emitFn func([]byte) // w.emit, made once so Poll allocates nothing
}

func (w *wired) Handle(pkt []byte, now time.Time) {
	if p, ok := w.f.Open(pkt, now); ok {
		w.m.Handle(p, now)
	}
}

// HandleFrom is Handle with the datagram's source address.
func (w *wired) HandleFrom(pkt []byte, from netip.AddrPort, now time.Time) {
	if p, ok := w.f.Open(pkt, now); ok {
		if w.fm != nil {
			w.fm.HandleFrom(p, from, now)
		} else {
			w.m.Handle(p, now)
		}
	}
}

func (w *wired) Poll(now time.Time, emit func([]byte)) time.Time {
	w.out, w.now = emit, now
	next := w.m.Poll(now, w.emitFn)
	w.out = nil
	return next
}

// emit seals a packet in the machine's own buffer (the trailer goes into its spare
// capacity) and passes it on; the owner loop copies it before the machine reuses it.
func (w *wired) emit(p []byte) { w.out(w.f.Seal(p, w.now)) }
