package mcast

import (
	"math"
	"slices"
	"time"
)

const (
	controlInterval = 50 * time.Millisecond // rate control and outlier classification
	ackDelay        = 2 * time.Millisecond  // acks wait this long to batch done reports
	// peerFresh: rate control uses only loss reports this recent. Receivers that stay
	// quiet (nothing to ask) are not evidence either way, and an old report describes an
	// old rate.
	peerFresh = 250 * time.Millisecond
	// minRefWindow: the median loss (lossRef) is taken over receivers whose last loss
	// report is at most this old, or older while reports are spaced wider (refWindow).
	minRefWindow = 2 * time.Second
	// announceEvery data packets an announce goes out even before AnnounceInterval, so a
	// receiver that missed one loses little at high rates.
	announceEvery = 1000
	waitAnnounce  = 50 * time.Millisecond // announce interval while paused
)

// pacer is a token bucket in wire bytes. It lets the sender go one packet into debt and
// then waits for the debt to clear, so packets leave evenly spaced at the rate; the
// bucket holds at most half a millisecond of credit, enough to absorb a late wake-up
// without bursting.
type pacer struct {
	rate   float64 // bytes/s
	tokens float64
	burst  float64
	last   time.Time
	pkt    int
}

func (p *pacer) init(rate float64, pkt int, now time.Time) {
	p.pkt = pkt
	p.last = now
	p.setRate(rate)
	p.tokens = p.burst
}

func (p *pacer) setRate(rate float64) {
	p.rate = rate
	p.burst = max(2*float64(p.pkt), rate*0.0005)
	p.tokens = min(p.tokens, p.burst)
}

func (p *pacer) refill(now time.Time) {
	if dt := now.Sub(p.last); dt > 0 {
		p.tokens = min(p.burst, p.tokens+dt.Seconds()*p.rate)
		p.last = now
	}
}

func (p *pacer) ready() bool { return p.tokens >= 0 }
func (p *pacer) spend(n int) { p.tokens -= float64(n) }
func (p *pacer) readyAt(now time.Time) time.Time {
	if p.tokens >= 0 {
		return now
	}
	d := time.Duration(-p.tokens / p.rate * float64(time.Second))
	return now.Add(max(d, time.Microsecond))
}

// rateControl is the adaptive mode: a loss-driven AIMD that treats a steady loss floor as
// noise. See docs/PROTOCOL.md, "Adaptive rate".
//
// Every control interval it takes L, the 90th percentile of the loss over the last
// window (lossWindow packets) that non-outlier receivers reported within peerFresh,
// counting only windows measured after the last decrease took effect. The floor F follows
// L downwards at once and creeps up slowly (it is the random loss the path has anyway,
// capped at 10 %). L > F + max(2 %, F/2, 2·sqrt(F/256)) is congestion: the rate drops to
// 0.95·(1-L)/(1-F) of itself (what got through), between 50 % and 80 %, and reports from
// before the drop are ignored from then on. Otherwise, if the sender used at least half
// the rate in the interval, the rate grows by 4 % (about ×2.2 per second) up to MaxRate.
type rateControl struct {
	s            *Sender
	floor        float64
	haveFloor    bool
	lastDecrease time.Time
	lastTick     time.Time
	lastBytes    uint64
	scratch      []float64
	Decreases    uint64
	// slowStart: until the first sign of congestion the rate grows by rcSlowStart per
	// interval instead of rcIncrease, so a fast LAN is reached in a few hundred
	// milliseconds instead of seconds (TCP's slow start, for the same reason).
	slowStart bool
}

const (
	rcIncrease     = 1.04
	rcSlowStart    = 1.5 // per interval: ×16 in 350 ms; a congestion report arrives within ~20 ms
	rcDecrease     = 0.80
	rcFloorCreep   = 0.05 // per second: a steady random loss is learnt within a second or two
	rcFloorMax     = 0.10
	rcMinExcess    = 0.02
	rcSevereExcess = 0.10 // an overshoot at x1.5 per interval loses a third
)

func (rc *rateControl) init(s *Sender, now time.Time) {
	rc.s = s
	rc.lastDecrease = now
	rc.lastTick = now
	rc.slowStart = true
}

// growth is the factor the rate grows by in an interval without congestion.
func (rc *rateControl) growth() float64 {
	if rc.slowStart {
		return rcSlowStart
	}
	return rcIncrease
}

// onlyOutliers reports whether every receiver still at work is an outlier.
func (rc *rateControl) onlyOutliers(now time.Time) bool {
	for _, p := range rc.s.peerList {
		if !p.complete && !p.outlier && now.Sub(p.last) <= 5*time.Second {
			return false
		}
	}
	return true
}

// lastWordCongested reports whether the receivers still at work and steering the rate
// last said (since the latest decrease took effect) that they were losing more than
// the floor, judged like fresh reports (90th percentile). Receivers report at spaced
// intervals; between reports, silence after bad news is no reason to speed up, or a
// lone slow receiver would be overrun between its reports for ever.
func (rc *rateControl) lastWordCongested(settled, now time.Time) bool {
	if !rc.haveFloor {
		return false
	}
	window := rc.s.refWindow()
	words := rc.scratch[:0]
	for _, p := range rc.s.peerList {
		if !p.complete && !p.outlier && p.lastLoss.After(settled) && now.Sub(p.lastLoss) <= window {
			words = append(words, p.recent)
		}
	}
	rc.scratch = words
	if len(words) == 0 {
		return false
	}
	slices.Sort(words)
	return rc.congested(words[len(words)*9/10])
}

// severe is congestion beyond doubt: loss at least 10 points and twice the floor above
// it (what an overshoot in slow start produces within an interval or two).
func (rc *rateControl) severe(l float64) bool {
	return l > rc.floor+max(rcSevereExcess, rc.floor)
}

// congested tells congestion from the loss floor: loss l well above it. Sampling
// noise of a loss estimate over lossWindow packets must not look like congestion.
func (rc *rateControl) congested(l float64) bool {
	noise := 2 * math.Sqrt(rc.floor/lossWindow)
	return l > rc.floor+max(rcMinExcess, rc.floor/2, noise)
}

func (rc *rateControl) tick(now time.Time) {
	s := rc.s
	dt := now.Sub(rc.lastTick).Seconds()
	rc.lastTick = now
	sent := s.stats.Bytes - rc.lastBytes
	rc.lastBytes = s.stats.Bytes
	// Probing up only makes sense while the rate is used (RFC 7661's idea): a sender
	// waiting for requests learns nothing about the path.
	used := dt > 0 && float64(sent) >= 0.5*s.pace.rate*dt
	if s.cfg.FixedRate || s.paused || !s.hasWork() {
		return
	}
	// Outliers do not steer the rate, unless nobody else is left; then no news is no
	// reason to speed up (a slow receiver reports rarely).
	alone := rc.onlyOutliers(now)
	// A report counts once its loss window was measured after the last decrease took
	// effect: a window of packets at the new rate plus a round trip.
	settled := rc.lastDecrease.Add(time.Duration(lossWindow*float64(s.pktLen)/s.pace.rate*float64(time.Second)) + 20*time.Millisecond)
	rc.scratch = rc.scratch[:0]
	for _, outliers := range []bool{false, true} {
		for _, p := range s.peerList {
			if p.outlier != outliers || p.complete || !p.lastLoss.After(settled) || now.Sub(p.lastLoss) > peerFresh {
				continue
			}
			rc.scratch = append(rc.scratch, p.recent)
		}
		if len(rc.scratch) > 0 || !alone {
			break
		}
	}
	rate := s.pace.rate
	if len(rc.scratch) > 0 {
		slices.Sort(rc.scratch)
		l := rc.scratch[len(rc.scratch)*9/10]
		if !rc.haveFloor {
			rc.floor, rc.haveFloor = min(l, rcFloorMax/2), true
		}
		rc.floor = min(rc.floor+rcFloorCreep*dt, l, rcFloorMax)
		switch {
		case rc.slowStart && !rc.severe(l):
			// Early in a session the floor is one or two noisy samples: a window at 8 % on
			// a 5 % path is no overshoot. Slow start goes on; an overshoot at ×1.5 per
			// interval soon shows as far more loss than that.
			if used {
				rate *= rc.growth()
			}
		case rc.congested(l):
			// What got through is about what the path carries: go just below it, by at
			// least rcDecrease and at most half.
			rate *= min(rcDecrease, max(0.5, 0.95*(1-l)/(1-rc.floor)))
			rc.lastDecrease = now
			rc.slowStart = false
			rc.Decreases++
			s.log.Debug("mcast: congestion, rate down", "loss", l, "floor", rc.floor, "rate", int64(rate))
		case used:
			rate *= rc.growth()
		}
	} else if used && !alone && !rc.lastWordCongested(settled, now) {
		rate *= rc.growth()
	}
	rate = min(max(rate, float64(s.cfg.MinRate)), float64(s.cfg.MaxRate))
	p90 := -1.0
	if len(rc.scratch) > 0 {
		p90 = rc.scratch[len(rc.scratch)*9/10]
	}
	s.log.Debug("mcast: rate", "samples", len(rc.scratch), "p90", p90, "floor", rc.floor, "rate", int64(rate),
		"sent", int64(float64(sent)/dt), "queued", s.repairs.total+s.fulls.total, "alone", alone, "used", used)
	s.pace.setRate(rate)
}
