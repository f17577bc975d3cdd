package mcast

import (
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/congestion"
	"github.com/discuscast/discus/mcast/wire"
)

// onData places one block. Before the receiver joined (it missed the announce) blocks
// are kept too: a data packet carries all the code needs, and the chunks rebuilt are
// delivered once the announce arrives.
func (r *Receiver) onData(h wire.Header, d *wire.Data, t int64) {
	c := d.Chunk
	if r.joined {
		if h.Node != r.info.Sender {
			r.senderChanged(h.Node, t)
		}
		w, lost := r.lm.Windows(), r.lm.Lost()
		if r.lm.Add(d.Seq) {
			r.lastSeq = d.Seq
			r.advance(d.Seq + 1)
		} else if dd := int32(d.Seq - r.lastSeq); dd > congestion.MaxSeqJump || dd < -congestion.MaxSeqJump {
			d.Seq = r.lastSeq // an outlier: its number says nothing (the block may still help)
		}
		if lost == 0 && r.lm.Lost() > 0 && r.cfg.FECReady != nil {
			r.cfg.FECReady() // the first loss: start preparing the rebuilds it will need
		}
		r.lastData = t
		if r.lm.Windows() != w && r.congDue == 0 && t >= r.congNext && r.congested() {
			// Tell the sender now rather than at the next report: its rate control needs
			// fresh news. A short random wait lets one report speak for many.
			r.congDue = t + 1 + int64(r.rng.Float64()*float64(r.suppressWindow())/4)
			r.dirty = true
		}
		r.queue, r.repairQ = d.Queue, d.RepairQueue
		if !r.queueKnown {
			r.learnQueue(t)
		}
		switch {
		case int(c) >= r.done.len():
			r.drop(wire.DropRange)
			return
		case d.ChunkLen > uint32(r.info.MaxChunk) || len(d.Payload) != r.info.BlockSize || int(d.MaxParity) != r.info.MaxParity:
			r.drop(wire.DropMalformed)
			return
		case r.done.get(int(c)):
			r.stats.DupBlocks++
			return
		}
	} else if d.ChunkLen > MaxChunkLimit {
		r.drop(wire.DropMalformed)
		return
	} else if int(c) >= r.cfg.MaxChunks {
		r.drop(wire.DropRange)
		return
	}
	p := r.byChunk[c]
	if p == nil {
		// Held chunks (complete, waiting for the code's tables) have a bound of their own,
		// so memory stays within 2·maxPartial chunks however long the tables take.
		// Chunks out for delivery count with them.
		// Lead chunks (the manifest the held ones may wait for) get a second window of
		// their own: without it a window full of chunks waiting for the manifest would
		// never let the manifest in.
		parked := r.held + r.out
		full := parked >= r.cfg.maxPartial || len(r.partials)-parked >= r.cfg.maxPartial && !r.evictStalled(t)
		if full && (!r.isLead(int(c)) || len(r.partials) >= 2*r.cfg.maxPartial) {
			r.drop(wire.DropWindow)
			return
		}
		dec, err := fec.NewDecoder(fec.Params{BlockSize: len(d.Payload), MaxParity: int(d.MaxParity)}, int(d.ChunkLen))
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		p = &partial{chunk: c, chunkLen: d.ChunkLen, bs: len(d.Payload), dec: dec, maxParity: d.MaxParity, u: r.rng.Float64(), grew: t}
		r.due.del(c) // asked for as a partial chunk from now on
		r.partials = append(r.partials, p)
		r.byChunk[c] = p
		r.dirty = true
	}
	if p.out {
		// Complete, its decoder the consumer's until Settle: nothing more to take, but
		// another length is still counted against it (rival).
		if d.ChunkLen != p.chunkLen || d.MaxParity != p.maxParity || len(d.Payload) != p.bs {
			countRival(&p.alt, d)
			r.drop(wire.DropConflict)
			return
		}
		r.stats.DupBlocks++
		return
	}
	if (d.ChunkLen != p.chunkLen || d.MaxParity != p.maxParity || len(d.Payload) != p.dec.BlockSize()) && !r.rival(p, d, t) {
		// Another length for this chunk: counted, and it takes over only once heard
		// more than the blocks held (rival): the first block never decides for good.
		r.drop(wire.DropConflict)
		return
	}
	if int(d.Block) >= p.dec.K()+p.dec.M() {
		r.drop(wire.DropRange)
		return
	}
	have := p.dec.Have()
	complete, err := p.dec.Add(int(d.Block), d.Payload)
	if err != nil {
		r.drop(wire.DropMalformed)
		return
	}
	p.last, p.lastSeq = t, d.Seq
	if p.dec.Have() == have {
		r.stats.DupBlocks++
		return
	}
	r.stats.Blocks++
	p.grew = t
	if k := uint32(p.dec.K()); d.Block >= k && d.Block-k+1 > p.nextParity {
		p.nextParity = d.Block - k + 1
	}
	if p.sampling && int32(d.Seq-p.reqSeq) > 0 {
		p.sampling = false
		// A delay timed from hearing another receiver's request (p.heard) is shorter
		// than our own round trip (in a star, the sender's two link delays rather than
		// all four); the timers' 2·srtt + 4·rttvar leave room for that.
		r.rtt.Sample(t-p.reqAt-int64(p.reqQueue)*r.pktTime, t-p.reqAt)
	}
	if complete && r.joined {
		r.completed(p, t)
	}
}

// completed delivers chunk p now, or holds it while a rebuild would have to wait for
// the code's tables (ReceiverConfig.FECReady).
func (r *Receiver) completed(p *partial, t int64) {
	if r.cfg.FECReady != nil && !p.dec.Ready() && !r.cfg.FECReady() {
		if !p.held {
			p.held = true
			r.held++
			r.dirty = true
		}
		return
	}
	if p.held {
		p.held = false
		r.held--
	}
	r.offer(p, t)
}

// deliverHeld rebuilds the held chunks once the tables are ready; it returns when to
// look again otherwise.
func (r *Receiver) deliverHeld(t int64) int64 {
	if r.held == 0 {
		return t + idleWake
	}
	// Only chunks that need a rebuild from parity wait for the code's tables; a chunk
	// the consumer deferred (its manifest piece not in yet) must not start building
	// them (0.2 CPU s and 74 MiB for nothing, measured by bench/trust.sh).
	needTables := false
	for _, p := range r.partials {
		needTables = needTables || p.held && !p.dec.Ready()
	}
	if needTables && r.cfg.FECReady != nil && !r.cfg.FECReady() {
		for _, p := range append([]*partial(nil), r.partials...) {
			if p.held && p.dec.Ready() && r.err == nil {
				r.completed(p, t) // a deferred chunk need not wait for the tables
			}
		}
		return t + heldPoll
	}
	// Lead chunks first, then the others from a turning start: a consumer with room for
	// a few at a time (session's delivery queue) defers the rest unseen, and a fixed
	// order starved a manifest piece behind image chunks that waited for it (a late
	// joiner stranded with 20 held chunks, TestLateJoinerResume).
	r.heldTurn++
	k := r.heldTurn % max(len(r.partials), 1)
	held := append(append(r.heldBuf[:0], r.partials[k:]...), r.partials[:k]...)
	for _, lead := range [2]bool{true, false} {
		for _, p := range held {
			if p.held && r.err == nil && r.isLead(int(p.chunk)) == lead {
				r.completed(p, t)
			}
		}
	}
	r.heldBuf = held[:0]
	if r.held > 0 {
		return t + deferPoll // deferred by the consumer: offered again soon
	}
	return t + idleWake
}

// adoptEarly keeps the blocks gathered before joining that fit the session, and
// delivers the chunks they completed.
func (r *Receiver) adoptEarly(t int64) {
	for _, p := range append([]*partial(nil), r.partials...) {
		if int(p.chunk) >= r.done.len() || p.dec.BlockSize() != r.info.BlockSize ||
			int(p.maxParity) != r.info.MaxParity || int(p.chunkLen) > r.info.MaxChunk {
			r.removePartial(p)
			continue
		}
		if p.dec.Complete() {
			r.completed(p, t)
			if r.err != nil {
				return
			}
		}
	}
}

func (r *Receiver) removePartial(p *partial) {
	if p.held {
		p.held = false
		r.held--
	}
	if p.out {
		// Out for delivery: the decoder is the consumer's unless Ready has not handed it
		// out yet.
		p.out = false
		r.out--
		if i := r.readyIndex(p); i >= 0 {
			r.ready = append(r.ready[:i], r.ready[i+1:]...)
		} else {
			p.dec = nil
		}
	}
	// Deliver copied what it kept: the chunk-sized buffer serves the next chunk instead
	// of being allocated and zeroed again.
	if p.dec != nil {
		p.dec.Release()
	}
	delete(r.byChunk, p.chunk)
	for i, q := range r.partials {
		if q == p {
			last := len(r.partials) - 1
			r.partials[i] = r.partials[last]
			r.partials[last] = nil
			r.partials = r.partials[:last]
			return
		}
	}
}

func (r *Receiver) readyIndex(p *partial) int {
	for i, d := range r.ready {
		if d.Dec == p.dec {
			return i
		}
	}
	return -1
}

func (r *Receiver) checkComplete(t int64) {
	if r.Complete() && r.doneTries == 0 && r.doneAt <= t {
		// Receivers tend to complete together (the last repair reaches them all):
		// spreading the done reports over a few milliseconds keeps a thousand of them
		// from arriving at the sender in one burst.
		r.doneAt = t + int64(r.rng.Float64()*float64(min(r.suppressWindow(), int64(20*time.Millisecond))))
		r.dirty = true
	}
}
