package mcast

import (
	"fmt"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/congestion"
	"github.com/discuscast/discus/mcast/wire"
)

func (r *Receiver) onAnnounce(h wire.Header, a *wire.Announce, t int64) {
	p := fec.Params{BlockSize: int(a.BlockSize), MaxParity: int(a.MaxParity)}
	if a.MaxChunk > MaxChunkLimit || p.Validate(int(a.MaxChunk)) != nil {
		r.drop(wire.DropMalformed)
		return
	}
	if int64(a.Chunks) > int64(r.cfg.MaxChunks) {
		// Beyond what this receiver takes (its per-chunk state is bounded by MaxChunks).
		r.drop(wire.DropRange)
		return
	}
	if !r.joined {
		r.tryJoin(h, a, p, t)
		return
	}
	if r.conflicts(a) {
		// The session's geometry, final count and final meta are fixed once joined: one
		// announce saying otherwise is dropped. Only the sender's persistent word (the
		// same description repeated, nothing agreeing meanwhile) replaces them.
		r.drop(wire.DropConflict)
		if e := r.descs.observe(h.Node, descHash(a), t); e.persistent(t) {
			r.readopt(h, a, p, t)
		}
		return
	}
	if h.Node != r.info.Sender {
		r.senderChanged(h.Node, t)
	}
	r.session(a)
	r.advance(a.Seq)
	r.helloSoon(a, t)
	chunks := max(int(a.Chunks), r.done.len())
	final := r.info.Final || a.Final
	metaChanged := string(a.Meta) != string(r.meta)
	if chunks != r.done.len() || final != r.info.Final || metaChanged {
		if r.cfg.OnUpdate != nil {
			si := r.sessionInfo()
			si.Chunks, si.Final, si.Meta = chunks, final, a.Meta
			if err := r.cfg.OnUpdate(si); err != nil {
				// The session layer refuses the change: the announce is dropped; the sender
				// saying so persistently stops the receiver.
				r.drop(wire.DropConflict)
				r.stats.Refused++
				e := r.descs.observe(h.Node, descHash(a), t)
				e.err = err
				if e.persistent(t) {
					r.fail(fmt.Errorf("%w: %w", ErrSession, err))
				}
				return
			}
		}
		r.grow(chunks)
		r.info.Final = final
		if metaChanged {
			r.meta = append(r.meta[:0], a.Meta...)
		}
		r.dirty = true
		r.checkComplete(t)
	}
	if r.lead == 0 {
		r.takeLead(a) // a stream's manifest exists only once its count is final
	}
	r.descs.agree()
}

// conflicts reports whether a disagrees with what the joined session established.
func (r *Receiver) conflicts(a *wire.Announce) bool {
	switch {
	case int(a.BlockSize) != r.info.BlockSize || int(a.MaxParity) != r.info.MaxParity || int(a.MaxChunk) != r.info.MaxChunk:
		return true // same session, different code
	case int(a.Chunks) < r.done.len():
		return true // chunks already known cannot go away
	case r.info.Final && (!a.Final || int(a.Chunks) != r.done.len() || string(a.Meta) != string(r.meta)):
		return true // a final count and its meta do not change
	}
	return false
}

// readopt follows the sender's persistent word against what the session was joined
// with (the first announce may have been forged: e.g. a final count one too large
// would strand every receiver). Blocks of a different code are dropped; a count
// below a chunk already delivered, or a description the session layer refuses, stops
// the receiver.
func (r *Receiver) readopt(h wire.Header, a *wire.Announce, p fec.Params, t int64) {
	r.descs.agree()
	n := int(a.Chunks)
	for c := n; c < r.done.len(); c++ {
		if r.done.get(c) {
			r.fail(fmt.Errorf("%w: the sender now announces %d chunks, chunk %d was delivered", ErrSession, n, c))
			return
		}
	}
	si := SessionInfo{SessionID: h.Session, Sender: h.Node, Meta: a.Meta, Chunks: n, Final: a.Final,
		BlockSize: int(a.BlockSize), MaxParity: int(a.MaxParity), MaxChunk: int(a.MaxChunk), Rate: int64(a.Rate)}
	if r.cfg.OnUpdate != nil {
		if err := r.cfg.OnUpdate(si); err != nil {
			r.fail(fmt.Errorf("%w: %w", ErrSession, err))
			return
		}
	}
	r.stats.Readopted++
	r.log.Warn("mcast: the sender's announces contradict the session joined; following them",
		"chunks", n, "final", a.Final, "was", r.done.len())
	geometry := int(a.BlockSize) != r.info.BlockSize || int(a.MaxParity) != r.info.MaxParity || int(a.MaxChunk) != r.info.MaxChunk
	for _, q := range append([]*partial(nil), r.partials...) {
		if geometry || int(q.chunk) >= n {
			r.removePartial(q)
		}
	}
	r.done.truncate(n)
	r.due.cut(uint32(n))
	r.cover.cut(uint32(n))
	r.params = p
	r.kEst = p.Blocks(int(a.MaxChunk))
	r.info.BlockSize, r.info.MaxParity, r.info.MaxChunk = si.BlockSize, si.MaxParity, si.MaxChunk
	r.info.Chunks, r.info.Final = n, a.Final
	r.grow(n)
	r.meta = append(r.meta[:0], a.Meta...)
	if r.cursor >= n {
		r.cursor = 0
	}
	if h.Node != r.info.Sender {
		r.senderChanged(h.Node, t)
	}
	r.session(a)
	r.advance(a.Seq)
	r.dirty = true
	r.checkComplete(t)
}

// tryJoin joins the session a describes, unless the session layer (OnSession) refuses
// it. A refusal is not decided by one packet: the receiver stays unjoined and fails
// only when the same refused description was heard persistently from one node.
func (r *Receiver) tryJoin(h wire.Header, a *wire.Announce, p fec.Params, t int64) {
	hash := descHash(a)
	if e := r.descs.find(h.Node, hash); e != nil && e.err != nil {
		r.descs.observe(h.Node, hash, t)
		r.drop(wire.DropConflict)
		r.stats.Refused++
		if e.persistent(t) {
			r.fail(fmt.Errorf("%w: %w", ErrSession, e.err))
		}
		return
	}
	if r.cfg.OnSession != nil {
		si := SessionInfo{SessionID: h.Session, Sender: h.Node, Meta: a.Meta, Chunks: int(a.Chunks), Final: a.Final,
			BlockSize: int(a.BlockSize), MaxParity: int(a.MaxParity), MaxChunk: int(a.MaxChunk), Rate: int64(a.Rate)}
		if err := r.cfg.OnSession(si); err != nil {
			r.drop(wire.DropConflict)
			r.stats.Refused++
			r.log.Warn("mcast: session refused", "sender", h.Node, "err", err)
			e := r.descs.observe(h.Node, hash, t)
			e.err = err
			return
		}
	}
	r.descs.agree()
	r.join(h, a, p, t)
}

func (r *Receiver) join(h wire.Header, a *wire.Announce, p fec.Params, t int64) {
	if r.early && h.Session != r.hdr.Session {
		for len(r.partials) > 0 {
			r.removePartial(r.partials[0])
		}
	}
	r.joined = true
	r.hdr.Session = h.Session
	r.params = p
	r.kEst = p.Blocks(int(a.MaxChunk))
	r.info = SessionInfo{SessionID: h.Session, Sender: h.Node, BlockSize: int(a.BlockSize),
		MaxParity: int(a.MaxParity), MaxChunk: int(a.MaxChunk), Final: a.Final}
	r.meta = append(r.meta[:0], a.Meta...)
	r.session(a)
	r.advance(a.Seq)
	r.grow(int(a.Chunks))
	if r.done.len() > 0 {
		r.cursor = r.rng.IntN(r.done.len())
	}
	r.takeLead(a)
	r.lastSent = t
	r.reportU = 0.5 + r.rng.Float64()
	r.reportAt = t + int64(float64(int64(congestion.MinReportInterval)/2)*r.reportU)
	r.helloSoon(a, t)
	r.dirty = true
	r.log.Debug("mcast: joined session", "sender", h.Node, "chunks", a.Chunks, "final", a.Final)
	r.adoptEarly(t)
	for _, c := range r.earlyAsked {
		if int(c) < r.done.len() {
			r.cover.set(c, t+r.rtoFull()+r.jitterFor(c), t)
		}
	}
	r.earlyAsked = nil
	r.checkComplete(t)
}

// takeLead notes a final announce's lead chunks (they describe the others: an image's
// manifest) and fetches them first, so what arrives next can be checked at once instead
// of waiting. A receiver that joined a stream before its count was final learns them
// only now, with its window perhaps full of chunks that wait for them: lead chunks are
// admitted beyond the window (receiver_data.go), or nothing would ever be checked.
func (r *Receiver) takeLead(a *wire.Announce) {
	if !a.Final || a.Lead == 0 || int(a.Lead) > r.done.len() {
		return
	}
	r.lead = int(a.Lead)
	r.log.Debug("mcast: lead", "lead", r.lead, "chunks", r.done.len())
	r.cursor = r.done.len() - r.lead
}

// isLead reports whether chunk c is one of the final session's lead chunks.
func (r *Receiver) isLead(c int) bool { return r.lead > 0 && c >= r.done.len()-r.lead }

// session takes the announce's soft state: rate, membership, loss reference.
func (r *Receiver) session(a *wire.Announce) {
	r.info.Rate = int64(a.Rate)
	if a.Rate > 0 {
		r.pktTime = int64(float64(wire.DataLen(r.info.BlockSize)) / float64(a.Rate) * 1e9)
	}
	r.members = int(a.Members)
	r.haveRef = a.LossRef != wire.LossUnknown
	if r.haveRef {
		r.lossRef = min(float64(a.LossRef)/10000, 1)
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
	r.lm.Reset()
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
	case !r.hasHorizon || d > 0 && d <= congestion.MaxSeqJump:
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
func (r *Receiver) helloSoon(a *wire.Announce, t int64) {
	if a.Waiting && !r.helloSent {
		r.reportAt = min(r.reportAt, t+int64(r.rng.Float64()*float64(helloJitter)))
		r.helloNow, r.dirty = true, true
	}
}
