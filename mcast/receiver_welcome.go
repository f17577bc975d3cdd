package mcast

import (
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// A keyed receiver (ReceiverConfig.Key) takes nothing on trust from a sender it has not
// heard answer it: a valid MAC proves a packet came from a key holder once, not that
// its sender is running now. Someone who recorded an earlier session (of this image or
// an older one) can replay it with every tag intact; what a recording cannot do is
// answer the hello of a receiver whose random node ID did not exist when it was made.
// So the receiver treats a new sender as a prospect: it says hello to it (in that
// sender's run, so the frame layer's epoch matches) and joins, or follows it as a
// replacement, only once an ack with the welcome flag from it lists its node ID.
//
// While it follows a sender that is alive, other senders of the session are ignored
// (counted as stale): a replayed old run cannot pull it away. A sender silent for
// switchSilence makes way for a prospect, which must welcome it in turn.

const (
	switchSilence   = int64(time.Second) // the followed sender's silence that lets a prospect in
	prospectPatient = int64(time.Second) // a prospect that has not welcomed us by then yields to another
	helloFirst      = int64(5 * time.Millisecond)
	helloMaxBackoff = int64(time.Second)
)

// prospect is a sender heard but not followed (yet).
type prospect struct {
	node    uint64
	session [16]byte
	ann     []byte // its latest announce (without trailer), replayed once it welcomes us
	since   int64  // when first heard
	helloAt int64  // when the next hello goes out
	tries   int
}

// outEpoch is the sender run our packets belong to (the frame layer's epoch): the
// prospect's while we greet it, else the sender we follow.
func (r *Receiver) outEpoch() uint64 {
	switch {
	case r.epochOut != 0:
		return r.epochOut
	case r.joined:
		return r.info.Sender
	}
	return r.pros.node
}

// Welcomed reports whether the sender this receiver follows acknowledged its hello
// (always false for a keyless receiver, which does not need it).
func (r *Receiver) Welcomed() bool { return r.welcomed }

// gate decides whether a keyed receiver takes a packet from a sender; it returns false
// for a packet it consumed or dropped (counted).
func (r *Receiver) gate(h wire.Header, pkt []byte, t int64) bool {
	followed := r.joined && h.Node == r.info.Sender
	switch h.Type {
	case wire.TypeAnnounce:
		if followed {
			r.lastSender = t
			return true
		}
		if r.joined && t-r.lastSender < switchSilence {
			r.drop(wire.DropStale)
			return false
		}
		r.consider(h, pkt, t)
		if r.joined {
			r.drop(wire.DropStale)
		} else {
			r.drop(wire.DropEarly)
		}
		return false
	case wire.TypeData:
		if followed {
			r.lastSender = t
			return true
		}
		if !r.joined && r.pros.node == h.Node {
			return true // kept before joining, as a keyless receiver keeps early blocks
		}
		r.drop(wire.DropStale)
		return false
	case wire.TypeAbort:
		if followed {
			return true
		}
		r.drop(wire.DropStale)
		return false
	case wire.TypeAck:
		if h.Flags&wire.FlagWelcome != 0 && h.Node == r.pros.node && h.Node != 0 {
			if r.listsUs(h, pkt) {
				r.acceptProspect(t)
			}
			return false
		}
		if followed {
			return true
		}
		r.drop(wire.DropStale)
		return false
	}
	return true
}

// consider records a sender's announce as the prospect: the first heard, the same one
// again (its latest announce), or a newer one once the current prospect had its chance.
func (r *Receiver) consider(h wire.Header, pkt []byte, t int64) {
	if r.pros.node != 0 && r.pros.node != h.Node && t-r.pros.since < prospectPatient {
		return
	}
	if r.pros.node != h.Node {
		r.pros = prospect{node: h.Node, session: h.Session, since: t,
			helloAt: t + int64(r.rng.Float64()*float64(helloFirst))}
		r.dirty = true
	}
	r.pros.ann = append(r.pros.ann[:0], pkt...)
}

func (r *Receiver) listsUs(h wire.Header, pkt []byte) bool {
	a, err := wire.ParseAck(h, pkt[wire.HeaderLen:], r.ackBuf)
	if err != nil {
		r.drop(wire.DropMalformed)
		return false
	}
	r.ackBuf = a.Nodes
	for _, id := range a.Nodes {
		if id == r.hdr.Node {
			return true
		}
	}
	return false
}

// acceptProspect follows the prospect that welcomed us: its latest announce goes
// through the ordinary path, which joins the session or adopts the replacement sender.
func (r *Receiver) acceptProspect(t int64) {
	ann := r.pros.ann
	r.pros = prospect{}
	h, body, err := wire.ParseHeader(ann)
	if err != nil {
		return
	}
	a, err := wire.ParseAnnounce(h, body)
	if err != nil {
		r.drop(wire.DropMalformed)
		return
	}
	r.welcomed, r.lastSender, r.helloSent = true, t, true
	r.onAnnounce(h, &a, t)
	r.dirty = true
}

// pollProspect greets the prospect: a hello now, again after 20 ms, 40 ms, … up to a
// second apart, until it welcomes us or another prospect takes its place.
func (r *Receiver) pollProspect(t int64, emit func([]byte)) int64 {
	if r.pros.node == 0 {
		return t + idleWake
	}
	if t < r.pros.helloAt {
		return r.pros.helloAt
	}
	hdr := r.hdr
	hdr.Session = r.pros.session
	rep := wire.Report{Progress: r.progress(), Hello: true, Alias: r.cfg.Alias}
	r.buf = wire.AppendReport(r.buf[:0], hdr, &rep)
	r.stats.Reports++
	r.epochOut = r.pros.node
	emit(r.buf)
	r.epochOut = 0
	r.pros.tries++
	r.pros.helloAt = t + min(int64(20*time.Millisecond)<<min(r.pros.tries-1, 10), helloMaxBackoff)
	return r.pros.helloAt
}

// keylessFollow is the keyless receiver's rule for other senders of its session: it
// follows a replacement sender too (without a key anyone may be one), but not on one
// packet. Another node's announces and data are dropped as conflicts until it has sent
// rivalRun of them in a row with nothing from the followed sender in between, or the
// followed sender has been silent for switchSilence: a forged packet cannot reset
// every receiver's timers, and a real replacement is followed within a few packets.
func (r *Receiver) keylessFollow(h wire.Header, t int64) bool {
	if h.Type != wire.TypeAnnounce && h.Type != wire.TypeData {
		return true
	}
	switch {
	case !r.joined:
		if h.Type == wire.TypeAnnounce {
			r.lastSender = t // the sender this announce may make us join
		}
		return true
	case h.Node == r.info.Sender:
		r.lastSender, r.rivalRun = t, 0
		return true
	case t-r.lastSender >= switchSilence:
		return true
	}
	if h.Node != r.rivalNode {
		r.rivalNode, r.rivalRun = h.Node, 0
	}
	if r.rivalRun++; r.rivalRun >= rivalRun {
		r.rivalRun = 0
		return true
	}
	r.drop(wire.DropConflict)
	return false
}

// rivalRun is how many packets in a row another sender must send before a keyless
// receiver follows it while its sender is still heard.
const rivalRun = 16
