package mcast

import (
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// candidate is a need that may go into the next request.
type candidate struct {
	n  wire.Need
	p  *partial // nil for a whole chunk
	at int64    // when it is due
}

// Poll emits the requests and reports due at now and returns when it wants to be called
// again. Between Handle calls that change nothing it is cheap: it returns the cached
// deadline.
func (r *Receiver) Poll(now time.Time, emit func(pkt []byte)) (next time.Time) {
	t := r.ns(now)
	if r.err != nil {
		return now.Add(time.Duration(idleWake))
	}
	if !r.joined {
		// A keyed receiver greets its prospect before it joins (receiver_welcome.go).
		return r.at(r.pollProspect(t, emit))
	}
	if !r.dirty && t < r.wake {
		return r.wakeT
	}
	r.dirty = false
	wake := r.pollProspect(t, emit)
	if r.held > 0 {
		wake = min(wake, r.deliverHeld(t))
	}
	if !r.Complete() {
		wake = min(wake, r.pollRequests(t, emit))
		wake = min(wake, r.pollReport(t, emit))
		if r.congDue > 0 {
			if t >= r.congDue {
				r.sendReport(t, false, emit, true)
				r.stats.CongReports++
				r.congDue, r.congNext = 0, t+r.congSpacing()
			} else {
				wake = min(wake, r.congDue)
			}
		}
	} else if !r.acked {
		if t >= r.doneAt {
			r.sendReport(t, true, emit, false)
			r.doneTries++
			r.doneAt = t + min(max(4*r.rtt.SRTT(), int64(20*time.Millisecond))<<min(r.doneTries, 8), maxDoneBackoff)
		}
		wake = min(wake, r.doneAt)
	}
	r.wake, r.wakeT = wake, r.at(wake)
	return r.wakeT
}

// pollRequests asks for what is due: partial chunks whose blocks stopped arriving, then
// whole chunks of the window (from a random start, so receivers differ). It returns the
// earliest time something else becomes due.
func (r *Receiver) pollRequests(t int64, emit func([]byte)) int64 {
	wake := t + idleWake
	cs := r.candidates[:0]
	first := int64(1<<63 - 1)
	gap := r.gap()
	for _, p := range r.partials {
		if p.out {
			continue // complete: its decoder is the consumer's
		}
		m := p.dec.Missing()
		if m == 0 {
			continue
		}
		// The deficit-biased backoff follows every wait, including a suppression: a
		// receiver that held back for someone else's repair asks in the same order again.
		due := p.due
		if p.reqAt > 0 {
			due = min(due, r.silentRetryAt(p.reqAt))
		}
		at := max(due, r.stoppedAt(p, gap)) + r.repairBackoff(m, p.dec.K(), p.u)
		ask := uint32(m)
		if p.nextParity >= uint32(p.dec.M()) {
			// Every parity index was sent: the sender recycles blocks in turn (§2), so
			// asking for the m missing would bring m blocks a round, most of them held —
			// a receiver missing one data block waited 70 s (bench/clonezilla.sh). K
			// blocks in a row bring back most of the cycle at once.
			ask = uint32(max(m, p.dec.K()))
		}
		cs = append(cs, candidate{n: wire.Need{Chunk: p.chunk, Missing: ask, NextParity: p.nextParity}, p: p, at: at})
		first = min(first, at)
	}
	if n := r.done.len(); n > 0 && r.nDone < n {
		r.cursor = r.done.nextClear(r.cursor % n)
		count := 0
		// Bounded scan: chunks done out of order ahead of the cursor are skipped, but a
		// huge image must not make every Poll walk it.
		for i := 0; i < n && count < r.cfg.Window && i < maxWindowScan; i++ {
			c := (r.cursor + i) % n
			if r.done.get(c) || r.byChunk[uint32(c)] != nil || r.awaitHeld && r.lead > 0 && !r.isLead(c) {
				continue
			}
			count++
			due := r.due.get(uint32(c))
			if due == 0 {
				due = t + r.wholeBackoff()
				r.due.set(uint32(c), due, t)
			}
			cover := r.cover.get(uint32(c))
			if cover > 0 {
				cover = min(cover, r.silentRetryAt(0)+r.jitterFor(uint32(c)))
			}
			at := max(due, cover)
			cs = append(cs, candidate{n: wire.Need{Chunk: uint32(c)}, at: at})
			first = min(first, at)
		}
	}
	r.candidates = cs
	if first > t {
		return min(wake, first)
	}
	// Something is due: send it, and everything due soon with it (one packet, not many).
	horizon := t + r.suppressWindow()/2
	r.needs = r.needs[:0]
	for i := range cs {
		c := &cs[i]
		if c.at > horizon || c.p != nil && c.at > t && t-c.p.last < gap {
			wake = min(wake, c.at)
			continue
		}
		r.needs = append(r.needs, c.n)
		if c.p != nil {
			c.p.due = t + r.rtoPartial(int(c.n.Missing))
			c.p.u = r.rng.Float64()
			c.p.reqAt, c.p.reqSeq, c.p.reqQueue, c.p.sampling, c.p.heard = t, r.lastSeq, r.repairQ, true, false
			wake = min(wake, c.p.due)
		} else {
			r.stats.WholeNeeds++
			cv := t + r.rtoFull() + r.jitterFor(c.n.Chunk)
			r.cover.set(c.n.Chunk, cv, t)
			wake = min(wake, cv)
		}
	}
	if len(r.needs) > 0 {
		r.log.Debug("mcast: request", "needs", len(r.needs), "loss", r.lm.Loss(), "recent", r.lm.Last(), "outlier", r.isOutlier(), "first", r.needs[0].Chunk)
	}
	for len(r.needs) > 0 {
		k := min(len(r.needs), wire.MaxNeeds)
		q := wire.Request{Progress: r.progress(), Outlier: r.isOutlier(), Needs: r.needs[:k]}
		r.buf = wire.AppendRequest(r.buf[:0], r.hdr, &q)
		r.stats.Requests++
		r.stats.NeedsSent += uint64(k)
		emit(r.buf)
		r.needs = r.needs[k:]
	}
	r.lastSent, r.lastAsk = t, t
	r.helloSent, r.helloNow = true, false
	return wake
}

// pollReport sends the hello or progress report when due, with RTCP-style
// reconsideration: when the timer fires the interval is recomputed from the membership
// heard by then, and the report is postponed if the group turned out larger.
func (r *Receiver) pollReport(t int64, emit func([]byte)) int64 {
	if t < r.reportAt {
		return r.reportAt
	}
	at := r.lastSent + int64(float64(r.reportInterval())*r.reportU)
	if at > t && !r.helloNow && !r.reportNow {
		r.reportAt = at
		return at
	}
	r.sendReport(t, false, emit, false)
	r.reportU = 0.5 + r.rng.Float64()
	r.reportAt = t + int64(float64(r.reportInterval())*r.reportU)
	return r.reportAt
}

func (r *Receiver) sendReport(t int64, done bool, emit func([]byte), cong bool) {
	rep := wire.Report{Progress: r.progress(), Hello: !r.helloSent, Done: done, Congestion: cong, Alias: r.cfg.Alias}
	r.helloSent, r.helloNow, r.reportNow = true, false, false
	r.buf = wire.AppendReport(r.buf[:0], r.hdr, &rep)
	r.stats.Reports++
	r.lastSent = t
	emit(r.buf)
}

func (r *Receiver) progress() wire.Progress {
	p := wire.Progress{Done: uint32(r.nDone), Known: uint32(r.done.len()), Loss: wire.LossUnknown, Recent: wire.LossUnknown, Seen: r.horizon}
	if r.lm.Windows() > 0 {
		p.Loss, p.Recent = lossWire(r.lm.Loss()), lossWire(r.lm.Last())
	}
	return p
}
