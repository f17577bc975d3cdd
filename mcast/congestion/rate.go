package congestion

import (
	"iter"
	"log/slog"
	"slices"
	"time"
)

// Peer is one receiver as rate control sees it: its latest word.
type Peer struct {
	Last     time.Time // when it was last heard
	LastLoss time.Time // when it last reported its loss (zero: never)
	Recent   float64   // its loss over its last window
	Complete bool      // it has every chunk: it no longer steers the rate
	Outlier  bool      // much lossier or slower than the others
}

// Controller is the adaptive mode: a loss-driven AIMD that treats a steady loss floor as
// noise. See docs/PROTOCOL.md, "Adaptive rate".
//
// Every control interval it takes L, the 90th percentile of the loss over the last
// window (LossWindow packets) that non-outlier receivers reported within peerFresh,
// counting only windows measured after the last decrease took effect. The floor F follows
// L downwards at once and creeps up slowly (it is the random loss the path has anyway,
// capped at 10 %). Congested(L, F) is congestion: the rate drops to 0.95·(1-L)/(1-F)
// of itself (what got through), between 50 % and 80 %, and reports from before the
// drop are ignored from then on. Otherwise, if the sender used at least half the rate
// in the interval, the rate grows by 4 % (about ×2.2 per second) up to the maximum.
//
// It holds no reference to the sender: each Tick gets what it needs as an Input.
type Controller struct {
	minRate, maxRate float64
	pktLen           int
	log              *slog.Logger

	floor        float64
	haveFloor    bool
	lastDecrease time.Time
	lastTick     time.Time
	lastBytes    uint64
	scratch      []float64
	decreases    uint64
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
	rcSevereExcess = 0.10 // an overshoot at x1.5 per interval loses a third
	// peerFresh: rate control uses only loss reports this recent. Receivers that stay
	// quiet (nothing to ask) are not evidence either way, and an old report describes an
	// old rate.
	peerFresh = 250 * time.Millisecond
)

// Input is what one control interval's decision needs.
type Input struct {
	Now       time.Time
	Rate      float64 // the current pacing rate, bytes/s
	Sent      uint64  // wire bytes sent since the start (a running total)
	Adapt     bool    // false: the rate stays (fixed rate, paused, or no work)
	Peers     iter.Seq[*Peer]
	RefWindow time.Duration // how old a receiver's last word may be (RefWindow)
	Queued    int           // blocks queued, for the debug log
}

// Init prepares the controller at now: in slow start, the rate kept within
// [minRate, maxRate], for data packets of pktLen wire bytes. log may be nil.
func (rc *Controller) Init(now time.Time, minRate, maxRate float64, pktLen int, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rc.minRate, rc.maxRate, rc.pktLen, rc.log = minRate, maxRate, pktLen, log
	rc.lastDecrease = now
	rc.lastTick = now
	rc.slowStart = true
}

// Decreases counts the congestion decreases so far.
func (rc *Controller) Decreases() uint64 { return rc.decreases }

// growth is the factor the rate grows by in an interval without congestion.
func (rc *Controller) growth() float64 {
	if rc.slowStart {
		return rcSlowStart
	}
	return rcIncrease
}

// onlyOutliers reports whether every receiver still at work is an outlier.
func onlyOutliers(peers iter.Seq[*Peer], now time.Time) bool {
	for p := range peers {
		if !p.Complete && !p.Outlier && now.Sub(p.Last) <= 5*time.Second {
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
func (rc *Controller) lastWordCongested(in *Input, settled time.Time) bool {
	if !rc.haveFloor {
		return false
	}
	words := rc.scratch[:0]
	for p := range in.Peers {
		if !p.Complete && !p.Outlier && p.LastLoss.After(settled) && in.Now.Sub(p.LastLoss) <= in.RefWindow {
			words = append(words, p.Recent)
		}
	}
	rc.scratch = words
	if len(words) == 0 {
		return false
	}
	slices.Sort(words)
	return Congested(words[len(words)*9/10], rc.floor)
}

// severe is congestion beyond doubt: loss at least 10 points and twice the floor above
// it (what an overshoot in slow start produces within an interval or two).
func (rc *Controller) severe(l float64) bool {
	return l > rc.floor+max(rcSevereExcess, rc.floor)
}

// Tick runs one control interval. It returns the rate to pace at, and false when the
// rate is not adapted now (in.Adapt false).
func (rc *Controller) Tick(in Input) (float64, bool) {
	now := in.Now
	dt := now.Sub(rc.lastTick).Seconds()
	rc.lastTick = now
	sent := in.Sent - rc.lastBytes
	rc.lastBytes = in.Sent
	// Probing up only makes sense while the rate is used (RFC 7661's idea): a sender
	// waiting for requests learns nothing about the path.
	used := dt > 0 && float64(sent) >= 0.5*in.Rate*dt
	if !in.Adapt {
		return in.Rate, false
	}
	// Outliers do not steer the rate, unless nobody else is left; then no news is no
	// reason to speed up (a slow receiver reports rarely).
	alone := onlyOutliers(in.Peers, now)
	// A report counts once its loss window was measured after the last decrease took
	// effect: a window of packets at the new rate plus a round trip.
	settled := rc.lastDecrease.Add(time.Duration(LossWindow*float64(rc.pktLen)/in.Rate*float64(time.Second)) + 20*time.Millisecond)
	rc.scratch = rc.scratch[:0]
	for _, outliers := range []bool{false, true} {
		for p := range in.Peers {
			if p.Outlier != outliers || p.Complete || !p.LastLoss.After(settled) || now.Sub(p.LastLoss) > peerFresh {
				continue
			}
			rc.scratch = append(rc.scratch, p.Recent)
		}
		if len(rc.scratch) > 0 || !alone {
			break
		}
	}
	rate := in.Rate
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
		case Congested(l, rc.floor):
			// What got through is about what the path carries: go just below it, by at
			// least rcDecrease and at most half.
			rate *= min(rcDecrease, max(0.5, 0.95*(1-l)/(1-rc.floor)))
			rc.lastDecrease = now
			rc.slowStart = false
			rc.decreases++
			rc.log.Debug("mcast: congestion, rate down", "loss", l, "floor", rc.floor, "rate", int64(rate))
		case used:
			rate *= rc.growth()
		}
	} else if used && !alone && !rc.lastWordCongested(&in, settled) {
		rate *= rc.growth()
	}
	rate = min(max(rate, rc.minRate), rc.maxRate)
	p90 := -1.0
	if len(rc.scratch) > 0 {
		p90 = rc.scratch[len(rc.scratch)*9/10]
	}
	rc.log.Debug("mcast: rate", "samples", len(rc.scratch), "p90", p90, "floor", rc.floor, "rate", int64(rate),
		"sent", int64(float64(sent)/dt), "queued", in.Queued, "alone", alone, "used", used)
	return rate, true
}
