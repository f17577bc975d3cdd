package mcast

import (
	"errors"
	"time"

	"github.com/discuscast/discus/fec"
)

// Delivery is a complete chunk handed out by Receiver.Ready: its index and the decoder
// holding its blocks. From Ready until Settle the decoder belongs to the consumer (the
// receiver neither reads nor changes it, and neither asks for nor takes more blocks of
// the chunk): the consumer rebuilds the chunk with Dec.Bytes, where it likes (a worker,
// not the receive loop), checks and writes it, then reports the outcome with Settle.
type Delivery struct {
	Index int
	Dec   *fec.Decoder
}

// Ready returns the chunks completed (or offered again) since the last call, in the
// order they completed; nil if none. The slice is valid until the next call. Each must
// be settled (Settle) exactly once; until then it counts against the held-chunk bound (2·Window+4) like a
// held chunk. A receiver configured with Deliver hands nothing out here.
func (r *Receiver) Ready() []Delivery {
	if len(r.ready) == 0 {
		return nil
	}
	r.readyOut = append(r.readyOut[:0], r.ready...)
	clear(r.ready)
	r.ready = r.ready[:0]
	return r.readyOut
}

// HasReady reports whether Ready has chunks to hand out.
func (r *Receiver) HasReady() bool { return len(r.ready) > 0 }

// Settle says what became of chunk index handed out by Ready:
//
//   - nil: written (accepted). The decoder stays the consumer's: call its Release once
//     its bytes are no longer needed (after the write), which recycles the chunk-sized
//     buffer for the next chunk.
//   - an error wrapping ErrDeferred: not judged yet, or no room to take it now. The
//     decoder returns to the receiver, which holds the chunk whole and offers it again
//     after the next delivery settled or a few milliseconds later.
//   - any other error: rejected (a checksum or the manifest failed). The decoder
//     returns to the receiver, which fetches the chunk again under the rebuild rules:
//     a chunk rebuilt with parity keeps its received data blocks the first time,
//     repeated rejections back off, and 32 stop the receiver (Err).
//
// A Settle for a chunk not out for delivery (settled already, or dropped because the
// session changed under it) is ignored; such a decoder is simply the consumer's to
// drop.
func (r *Receiver) Settle(index int, err error, now time.Time) {
	p := r.byChunk[uint32(index)]
	if p == nil || !p.out || r.queued(p) {
		return
	}
	r.settle(p, err, r.ns(now))
}

// queued reports whether p waits in r.ready, not yet handed out.
func (r *Receiver) queued(p *partial) bool {
	for _, d := range r.ready {
		if d.Dec == p.dec {
			return true
		}
	}
	return false
}

// offer hands complete chunk p to the consumer: through Deliver at once if configured
// (the rebuild then runs here), else as an output of Ready.
func (r *Receiver) offer(p *partial, t int64) {
	r.noteReceived(p)
	if r.cfg.Deliver != nil {
		b, err := p.dec.Bytes()
		if err == nil {
			err = r.cfg.Deliver(int(p.chunk), b)
		}
		r.settle(p, err, t)
		return
	}
	p.out = true
	r.out++
	r.ready = append(r.ready, Delivery{Index: int(p.chunk), Dec: p.dec})
}

// settle applies the consumer's verdict on chunk p (see Settle).
func (r *Receiver) settle(p *partial, err error, t int64) {
	handed := p.out
	if p.out {
		p.out = false
		r.out--
	}
	if errors.Is(err, ErrDeferred) {
		// The consumer cannot judge it yet (its manifest piece is still on the way) or
		// has no room: keep the chunk whole and offer it again (deliverHeld).
		if !p.held {
			p.held = true
			r.held++
		}
		r.stats.Deferred++
		return
	}
	if err != nil {
		r.stats.Corrupt++
		r.log.Warn("mcast: chunk rejected, fetching again", "chunk", p.chunk, "err", err)
		var b []byte
		if p.dec.Solved() {
			b, _ = p.dec.Bytes() // rebuilt already: no work
		}
		r.rejected(p, b, err, t)
		r.dirty = true
		return
	}
	r.stats.Bytes += uint64(p.chunkLen)
	r.done.set(int(p.chunk))
	r.due.del(p.chunk)
	r.cover.del(p.chunk)
	r.nDone++
	if handed {
		p.dec = nil // the consumer's now
	}
	r.removePartial(p)
	r.dirty = true
	r.checkComplete(t)
}
