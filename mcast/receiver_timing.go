package mcast

import (
	"math"
	"math/bits"
	"time"

	"github.com/discuscast/discus/mcast/congestion"
)

const (
	minGap         = int64(2 * time.Millisecond)
	idleWake       = int64(time.Second)
	maxDoneBackoff = int64(2 * time.Second)
	maxWindowScan  = 1 << 14
	heldPoll       = int64(time.Millisecond) // how often held chunks check for the tables
	helloJitter    = int64(5 * time.Millisecond)
)

// The timers below scale with the measured delay (srtt), the sender's packet time and
// its reported backlog, so nothing is a fixed second.

// suppressWindow is how long a receiver waits, at most, before asking, to hear whether
// someone else asks first.
func (r *Receiver) suppressWindow() int64 {
	// Wide enough that the deficit-biased order (§3 of PROTOCOL.md: adjacent deficits
	// fire ~5 % of S apart) separates receivers by more than they take to hear each other
	// (~srtt/2); capped so a queue-inflated srtt does not stall repairs.
	return min(max(20*r.rtt.SRTT(), 8*r.pktTime, int64(10*time.Millisecond)), int64(200*time.Millisecond))
}

// gap is how long a chunk's blocks must stop before its deficit counts as final. The
// srtt term is capped by silentRetry for the same reason as the request timers.
func (r *Receiver) gap() int64 {
	return max(16*r.pktTime, minGap, min(r.rtt.SRTT()/2, silentRetry))
}

// movedOnPkts: once the sender has sent this many packets after a chunk's latest
// block, it has moved on (a job's blocks interleave only with the side lane's).
const movedOnPkts = 8

// stoppedAt is when chunk p's deficit counts as final: gap after its latest block once
// the sender has moved on to other packets. While it has not, the sender has merely
// paused (a busy machine, a scheduler) with p's blocks still to come, unless the stream
// stayed silent longer than its announced backlog explains.
func (r *Receiver) stoppedAt(p *partial, gap int64) int64 {
	at := p.last + gap
	if !r.hasHorizon || int32(r.horizon-p.lastSeq-1) >= movedOnPkts {
		return at
	}
	silence := gap
	if r.queue > 0 {
		silence += int64(10*time.Millisecond) + int64(min(r.queue, 4*movedOnPkts))*r.pktTime*3/2
	}
	return max(at, r.lastData+silence)
}

// rtoPartial is how long a repair of n blocks may take before asking again.
func (r *Receiver) rtoPartial(n int) int64 {
	return 2*r.rtt.SRTT() + 4*r.rtt.RTTVar() + (int64(r.repairQ)+int64(n))*r.pktTime*3/2 + r.suppressWindow() + r.gap()
}

// silentRetry bounds the request timers by silence: once neither data nor a request
// has been heard for this long after a request, it is asked again, whatever rtoPartial
// or rtoFull say. Those grow with srtt and rttvar, which a receiver too slow for the
// stream inflates with its own backlog (packets waiting in its socket while it writes
// the disk): a TCG VM left alone at the end of a session measured seconds and asked
// once every ~13 s while the sender idled (bench/RESULTS.md, netboot). While the
// sender is busy, data keeps arriving and the RTT-based timers rule.
const silentRetry = int64(time.Second)

// silentRetryAt is when a need last asked for (or heard asked for) at asked is asked
// again for lack of anything heard since.
func (r *Receiver) silentRetryAt(asked int64) int64 {
	return max(asked, r.lastData, r.lastAsk) + silentRetry
}

// rtoFull is how long a whole chunk may take: it may be queued behind everything.
func (r *Receiver) rtoFull() int64 {
	return 2*r.rtt.SRTT() + 4*r.rtt.RTTVar() + (int64(r.queue)+int64(r.kEst))*r.pktTime*3/2 + r.suppressWindow() + r.gap()
}

// repairBackoff draws the wait before asking for a repair of missing out of k blocks.
// Receivers missing more than their loss rate predicts go first, so the largest deficit
// is usually heard before the others ask and they all hold back.
func (r *Receiver) repairBackoff(missing, k int, u float64) int64 {
	s := float64(r.suppressWindow())
	// Everyone scales by the same reference loss, so the order is by absolute deficit;
	// an outlier (served apart) uses its own.
	// Before the sender announced a reference, a fixed prior keeps that order too.
	p := r.lossRef
	if r.isOutlier() {
		p = r.lm.Loss()
	} else if !r.haveRef {
		p = 0.01
	}
	mu := max(p, 0.002) * float64(k)
	z := (float64(missing) - mu) / math.Sqrt(mu)
	q := 0.5 * math.Erfc(z/math.Sqrt2) // chance a receiver misses this many or more
	f := min(max(1+math.Log10(max(q, 1e-12))/3, 0), 1)
	// Ties (many receivers short by the same few blocks after a repair round) are
	// broken by an exponentially biased draw, so only a few of them ask.
	return int64(s * (0.7*f + 0.3*expBias(u, 1000)))
}

// wholeBackoff draws the wait before asking for a whole chunk: exponentially biased
// (Nonnenmacher-Biersack), so of N receivers wanting the same chunk at the same moment
// only about N^(delay/S) ask before they hear the first request. N is taken large
// (at least 1000) because at the start nobody knows how many there are.
func (r *Receiver) wholeBackoff() int64 {
	n := max(r.members, r.heardCount(), 1000)
	return int64(expBias(r.rng.Float64(), n) * float64(r.wholeWindow()))
}

// wholeWindow spreads whole-chunk requests over S, or over half the time the sender's
// backlog takes to drain if that is shorter (at least minGap): a sender about to run
// dry must hear soon, and an exponentially biased draw still lets only a handful of a
// thousand receivers ask before they hear one another.
func (r *Receiver) wholeWindow() int64 {
	s := r.suppressWindow()
	if !r.queueKnown {
		return s
	}
	return min(s, max(minGap, int64(r.queue)*r.pktTime/2))
}

// expBias maps a uniform u to [0, 1] so that of n receivers drawing at once, about
// n^x fall below x: max(0, 1 + ln(u)/ln(n)).
func expBias(u float64, n int) float64 {
	return max(0, 1+math.Log(max(u, 1e-300))/math.Log(float64(n)))
}

// reportInterval spaces hello and progress reports RTCP-style
// (congestion.ReportInterval), at least MinReportInterval apart while the rate is
// unknown.
func (r *Receiver) reportInterval() int64 {
	if r.pktTime <= 0 {
		return int64(congestion.MinReportInterval)
	}
	n := max(r.members, r.heardCount()) + 1
	return int64(congestion.ReportInterval(n, 1e9/float64(r.pktTime)))
}

func (r *Receiver) heardCount() int {
	zeros := 0
	for _, w := range r.heardBits {
		zeros += 64 - bits.OnesCount64(w)
	}
	if zeros == 0 {
		return 8192
	}
	return int(-1024*math.Log(float64(zeros)/1024) + 0.5)
}

// jitterFor spreads the whole-chunk timers that one request heard by many receivers
// sets, differently per receiver and chunk, so they do not all fire together and
// suppression can work.
func (r *Receiver) jitterFor(c uint32) int64 {
	h := (r.hdr.Node ^ uint64(c)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	return int64(float64(h>>11) / (1 << 53) * float64(r.suppressWindow()))
}

// congested reports whether the last two loss windows were both well above the
// reference loss: a path filling up, not the random floor (two windows in a row over the
// threshold are rare by chance even among a thousand receivers).
func (r *Receiver) congested() bool {
	if !r.haveRef || r.lm.Windows() < 2 {
		return false
	}
	ref := r.lossRef
	if r.isOutlier() {
		// An outlier's loss is its own; the sender uses its reports only once nobody
		// else is left, to fit the rate to the slow receiver.
		ref = 0.08
	}
	return congestion.Congested(r.lm.Last(), ref) && congestion.Congested(r.lm.Prev(), ref)
}

// congSpacing is the least time between congestion reports of one receiver (and after
// hearing another's): long enough for the sender to react and the loss to be measured
// again.
func (r *Receiver) congSpacing() int64 {
	if r.isOutlier() {
		return max(4*r.rtt.SRTT(), int64(250*time.Millisecond))
	}
	return max(4*r.rtt.SRTT(), int64(50*time.Millisecond))
}
