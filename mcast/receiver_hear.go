package mcast

import "github.com/discuscast/discus/mcast/wire"

// earlyRequest remembers the whole chunks others asked for before we joined, so we do
// not ask again (a receiver that missed the first announce would otherwise repeat
// everyone's requests).
func (r *Receiver) earlyRequest(h wire.Header, body []byte) {
	q, err := wire.ParseRequest(h, body, r.needs[:0])
	if err != nil {
		r.drop(wire.DropMalformed)
		return
	}
	for _, n := range q.Needs {
		if n.Missing == 0 && len(r.earlyAsked) < 4096 && !q.Outlier {
			r.earlyAsked = append(r.earlyAsked, n.Chunk)
		}
	}
	r.drop(wire.DropEarly)
}

// onRequest hears another receiver's request: needs it covers are held back.
func (r *Receiver) onRequest(h wire.Header, q *wire.Request, t int64) {
	r.heardNode(h.Node)
	if q.Outlier && !r.isOutlier() {
		return // served from the side queue: does not cover us
	}
	r.lastAsk = max(r.lastAsk, t)
	for _, n := range q.Needs {
		c := n.Chunk
		if int(c) >= r.done.len() || r.done.get(int(c)) {
			continue
		}
		p := r.byChunk[c]
		if n.Missing == 0 {
			r.cover.set(c, max(r.cover.get(c), t+r.rtoFull()+r.jitterFor(c)), t)
			if p != nil {
				r.suppress(p, t+r.rtoFull())
			}
			continue
		}
		if p != nil && !p.out && p.dec.Missing() <= int(n.Missing) {
			r.suppress(p, t+r.rtoPartial(int(n.Missing)))
			if !p.sampling {
				p.reqAt, p.reqSeq, p.reqQueue, p.sampling, p.heard = t, r.lastSeq, r.repairQ, true, true
			}
		}
	}
}

func (r *Receiver) suppress(p *partial, until int64) {
	if until > p.due {
		p.due = until
		r.stats.NeedsSuppressed++
	}
}

// onReport hears another receiver's report; a congestion report stands in for ours.
func (r *Receiver) onReport(h wire.Header, p *wire.Report, t int64) {
	r.heardNode(h.Node)
	if p.Congestion && r.congDue > 0 {
		r.congDue = 0
		r.congNext = t + r.congSpacing()
		r.stats.CongSuppressed++
	}
}

// heardNode counts receivers heard (linear counting in 1024 bits), for report spacing.
func (r *Receiver) heardNode(id uint64) {
	h := (id * 0x9e3779b97f4a7c15) >> 54
	r.heardBits[h>>6] |= 1 << (h & 63)
}
