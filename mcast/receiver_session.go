package mcast

import (
	"fmt"

	"github.com/discuscast/discus/fec"
)

func (r *Receiver) onAnnounce(h header, a *announce, t int64) {
	p := fec.Params{BlockSize: int(a.blockSize), MaxParity: int(a.maxParity)}
	if a.maxChunk > MaxChunkLimit || p.Validate(int(a.maxChunk)) != nil {
		r.drop(DropMalformed)
		return
	}
	if int64(a.chunks) > int64(r.cfg.MaxChunks) {
		// Beyond what this receiver takes (its per-chunk state is bounded by MaxChunks).
		r.drop(DropRange)
		return
	}
	if !r.joined {
		r.join(h, a, p, t)
		return
	}
	if int(a.blockSize) != r.info.BlockSize || int(a.maxParity) != r.info.MaxParity || int(a.maxChunk) != r.info.MaxChunk {
		// Same session, different code: not a sender we can use.
		r.drop(DropMalformed)
		return
	}
	if h.node != r.info.Sender {
		r.senderChanged(h.node, t)
	}
	r.session(a)
	r.advance(a.seq)
	r.helloSoon(a, t)
	changed := r.grow(int(a.chunks))
	if a.final && !r.info.Final {
		r.info.Final, changed = true, true
	}
	if string(a.meta) != string(r.meta) {
		r.meta, changed = append(r.meta[:0], a.meta...), true
	}
	if changed {
		r.dirty = true
		if r.cfg.OnUpdate != nil {
			if err := r.cfg.OnUpdate(r.sessionInfo()); err != nil {
				r.fail(fmt.Errorf("%w: %w", ErrSession, err))
			}
		}
		r.checkComplete(t)
	}
}

func (r *Receiver) join(h header, a *announce, p fec.Params, t int64) {
	if r.early && h.session != r.hdr.session {
		for len(r.partials) > 0 {
			r.removePartial(r.partials[0])
		}
	}
	r.joined = true
	r.hdr.session = h.session
	r.params = p
	r.kEst = p.Blocks(int(a.maxChunk))
	r.info = SessionInfo{SessionID: h.session, Sender: h.node, BlockSize: int(a.blockSize),
		MaxParity: int(a.maxParity), MaxChunk: int(a.maxChunk), Final: a.final}
	r.meta = append(r.meta[:0], a.meta...)
	r.session(a)
	r.advance(a.seq)
	r.grow(int(a.chunks))
	if r.done.len() > 0 {
		r.cursor = r.rng.IntN(r.done.len())
	}
	if a.lead > 0 && int(a.lead) <= r.done.len() {
		// The lead chunks describe the others (an image's manifest): fetch them first,
		// so what arrives next can be checked at once instead of waiting.
		r.cursor = r.done.len() - int(a.lead)
	}
	r.lastSent = t
	r.reportU = 0.5 + r.rng.Float64()
	r.reportAt = t + int64(float64(minReportInterval/2)*r.reportU)
	r.helloSoon(a, t)
	r.dirty = true
	r.log.Debug("mcast: joined session", "sender", h.node, "chunks", a.chunks, "final", a.final)
	if r.cfg.OnSession != nil {
		if err := r.cfg.OnSession(r.sessionInfo()); err != nil {
			r.fail(fmt.Errorf("%w: %w", ErrSession, err))
			return
		}
	}
	r.adoptEarly(t)
	for _, c := range r.earlyAsked {
		if int(c) < r.done.len() {
			r.cover.set(c, t+r.rtoFull()+r.jitterFor(c), t)
		}
	}
	r.earlyAsked = nil
	r.checkComplete(t)
}

// session takes the announce's soft state: rate, membership, loss reference.
func (r *Receiver) session(a *announce) {
	r.info.Rate = int64(a.rate)
	if a.rate > 0 {
		r.pktTime = int64(float64(headerLen+dataBody+r.info.BlockSize) / float64(a.rate) * 1e9)
	}
	r.members = int(a.members)
	r.haveRef = a.lossRef != lossUnknown
	if r.haveRef {
		r.lossRef = min(float64(a.lossRef)/10000, 1)
	}
}

func (r *Receiver) sessionInfo() SessionInfo {
	si := r.info
	si.Chunks = r.done.len()
	si.Meta = r.meta
	return si
}

// grow extends the per-chunk state to n chunks (a streaming sender's count grows).
func (r *Receiver) grow(n int) bool {
	if n <= r.done.len() {
		return false
	}
	r.done.grow(n)
	r.info.Chunks = n
	return true
}

// senderChanged follows a replacement sender: its queue is empty, so every need is
// asked for again; blocks already held stay (the code depends only on the chunk).
func (r *Receiver) senderChanged(node uint64, t int64) {
	r.log.Debug("mcast: new sender", "old", r.info.Sender, "new", node)
	r.info.Sender = node
	r.lm.reset()
	r.hasHorizon, r.hasHorizonSus = false, false
	r.due.reset()
	r.cover.reset()
	r.queueKnown = false
	for _, p := range r.partials {
		p.due = 0
		p.sampling = false
	}
	r.acked = false
	r.doneAt = t
	r.dirty = true
}

// learnQueue extends the cover of whole-chunk requests made before the sender's
// backlog was known: they are served in turn, after everything queued.
func (r *Receiver) learnQueue(t int64) {
	r.queueKnown = true
	rto := r.rtoFull()
	for c, v := range r.cover.m {
		if v > 0 {
			r.cover.m[c] = max(v, t+rto+r.jitterFor(c))
		}
	}
	r.dirty = true
}

// advance moves the horizon (the sender's next sequence number as far as this receiver
// knows) forward; requests carry it so the sender can tell a need that crossed the
// chunk's transmission from one that outlived it.
func (r *Receiver) advance(next uint32) {
	d := int32(next - r.horizon)
	switch {
	case !r.hasHorizon || d > 0 && d <= maxSeqJump:
	case d <= 0:
		return
	case r.hasHorizonSus && int32(next-r.horizonSus) > 0 && int32(next-r.horizonSus) <= maxHorizonConfirm:
		// A second number far ahead and after the first: the stream is there (an outage).
	default:
		// One number far ahead (a flipped bit, a forged announce) is a suspect only.
		r.horizonSus, r.hasHorizonSus = next, true
		return
	}
	r.horizon, r.hasHorizon, r.hasHorizonSus = next, true, false
}

// maxHorizonConfirm: a suspect horizon is confirmed by a later number at most this far
// beyond it (announces 200 ms apart when no data reaches us).
const maxHorizonConfirm = 1 << 24

// helloSoon sends the hello within a few ms when the sender says it is waiting for
// receivers (it starts as soon as it hears them); otherwise the hello keeps its
// spaced time, as hellos from a thousand receivers at once would cost a sender that
// is not waiting for them more than they tell it.
func (r *Receiver) helloSoon(a *announce, t int64) {
	if a.waiting && !r.helloSent {
		r.reportAt = min(r.reportAt, t+int64(r.rng.Float64()*float64(helloJitter)))
		r.helloNow, r.dirty = true, true
	}
}
