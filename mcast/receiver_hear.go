package mcast

// earlyRequest remembers the whole chunks others asked for before we joined, so we do
// not ask again (a receiver that missed the first announce would otherwise repeat
// everyone's requests).
func (r *Receiver) earlyRequest(h header, body []byte) {
	q, err := parseRequest(h, body, r.needs[:0])
	if err != nil {
		r.drop(DropMalformed)
		return
	}
	for _, n := range q.needs {
		if n.missing == 0 && len(r.earlyAsked) < 4096 && !q.outlier {
			r.earlyAsked = append(r.earlyAsked, n.chunk)
		}
	}
	r.drop(DropEarly)
}

// onRequest hears another receiver's request: needs it covers are held back.
func (r *Receiver) onRequest(h header, q *request, t int64) {
	r.heardNode(h.node)
	if q.outlier && !r.isOutlier() {
		return // served from the side queue: does not cover us
	}
	for _, n := range q.needs {
		c := n.chunk
		if int(c) >= r.done.len() || r.done.get(int(c)) {
			continue
		}
		p := r.byChunk[c]
		if n.missing == 0 {
			r.cover.set(c, max(r.cover.get(c), t+r.rtoFull()+r.jitterFor(c)), t)
			if p != nil {
				r.suppress(p, t+r.rtoFull())
			}
			continue
		}
		if p != nil && p.dec.Missing() <= int(n.missing) {
			r.suppress(p, t+r.rtoPartial(int(n.missing)))
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
func (r *Receiver) onReport(h header, p *report, t int64) {
	r.heardNode(h.node)
	if p.cong && r.congDue > 0 {
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
