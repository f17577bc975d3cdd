package mcast

import (
	"math"
	"math/bits"
	"time"
)

const (
	initialRTT        = int64(10 * time.Millisecond)
	minRTT            = int64(100 * time.Microsecond)
	minGap            = int64(2 * time.Millisecond)
	minReportInterval = int64(time.Second)
	// maxReportInterval keeps every receiver audible at least every 15 s (1.5 x this),
	// so a sender can tell a silent receiver from a slow one with a 30 s timeout.
	maxReportInterval = int64(10 * time.Second)
	reportShare       = 0.001 // of the sender's packet rate, for all receivers' reports together
	idleWake          = int64(time.Second)
	maxDoneBackoff    = int64(2 * time.Second)
	lossWindow        = 256 // packets per loss sample
	maxWindowScan     = 1 << 14
	heldPoll          = int64(time.Millisecond) // how often held chunks check for the tables
	helloJitter       = int64(5 * time.Millisecond)
)

// rttEstimator smooths request-to-repair delays the way TCP smooths RTT (RFC 6298).
type rttEstimator struct {
	srtt, rttvar int64
	samples      int
}

func (e *rttEstimator) init() { e.srtt, e.rttvar = initialRTT, initialRTT/2 }

// sample takes a delay with the sender's queueing removed (net) and the raw one; the net
// value is used unless it looks implausibly small against the raw one.
func (e *rttEstimator) sample(net, raw int64) {
	s := max(net, raw/4, minRTT)
	if e.samples == 0 {
		e.srtt, e.rttvar = s, s/2
	} else {
		d := e.srtt - s
		if d < 0 {
			d = -d
		}
		e.rttvar += (d - e.rttvar) / 4
		e.srtt += (s - e.srtt) / 8
	}
	e.samples++
}

// lossMeter measures loss from the sender's packet sequence numbers: every lossWindow
// expected packets give a sample, smoothed with weight 1/4.
type lossMeter struct {
	next      uint32
	init      bool
	got, lost int
	lostTotal uint64
	loss      float64 // smoothed
	last      float64 // the last window's
	prev      float64 // the one before
	windows   int
	// A sequence number far from the expected one (a flipped bit, a forged packet) is
	// one outlier, not millions of lost packets: it is held as a suspect, and only a
	// second packet just after it (the stream really moved: a long outage) moves the
	// meter there, counting at most one window as lost.
	suspect    uint32
	hasSuspect bool
	outliers   uint64
}

// maxSeqJump is how far (in packets) from the expected sequence number a data packet
// may be and still be taken at its word: 4 loss windows, ~15 ms at 100 MB/s.
const maxSeqJump = 4 * lossWindow

func (m *lossMeter) reset() { m.init, m.got, m.lost, m.hasSuspect = false, 0, 0, false }

// add takes a data packet's sequence number; it reports whether the number is the
// stream's position (false: a late or duplicate packet, or an outlier).
func (m *lossMeter) add(seq uint32) bool {
	if !m.init {
		m.init, m.next = true, seq+1
		m.got++
		return true
	}
	d := int32(seq - m.next)
	if d > maxSeqJump || d < -maxSeqJump {
		if !m.hasSuspect || int32(seq-m.suspect) <= 0 || int32(seq-m.suspect) > maxSeqJump {
			m.suspect, m.hasSuspect = seq, true
			m.outliers++
			return false
		}
		// Confirmed: the stream is there now. A forward gap counts as one window lost
		// (an outage, not congestion to be measured packet by packet).
		m.hasSuspect = false
		d = max(min(d, lossWindow), 0)
	} else if d < 0 {
		return false // late or duplicate: not new information
	}
	m.hasSuspect = false
	m.lost += int(d)
	m.lostTotal += uint64(d)
	m.got++
	m.next = seq + 1
	if n := m.got + m.lost; n >= lossWindow {
		s := float64(m.lost) / float64(n)
		m.prev, m.last = m.last, s
		if m.windows == 0 {
			m.loss = s
		} else {
			m.loss += (s - m.loss) / 4
		}
		m.windows++
		m.got, m.lost = 0, 0
	}
	return true
}

// The timers below scale with the measured delay (srtt), the sender's packet time and
// its reported backlog, so nothing is a fixed second.

// suppressWindow is how long a receiver waits, at most, before asking, to hear whether
// someone else asks first.
func (r *Receiver) suppressWindow() int64 {
	// Wide enough that the deficit-biased order (§3 of PROTOCOL.md: adjacent deficits
	// fire ~5 % of S apart) separates receivers by more than they take to hear each other
	// (~srtt/2); capped so a queue-inflated srtt does not stall repairs.
	return min(max(20*r.rtt.srtt, 8*r.pktTime, int64(10*time.Millisecond)), int64(200*time.Millisecond))
}

// gap is how long a chunk's blocks must stop before its deficit counts as final.
func (r *Receiver) gap() int64 {
	return max(16*r.pktTime, minGap, r.rtt.srtt/2)
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
	return 2*r.rtt.srtt + 4*r.rtt.rttvar + (int64(r.repairQ)+int64(n))*r.pktTime*3/2 + r.suppressWindow() + r.gap()
}

// rtoFull is how long a whole chunk may take: it may be queued behind everything.
func (r *Receiver) rtoFull() int64 {
	return 2*r.rtt.srtt + 4*r.rtt.rttvar + (int64(r.queue)+int64(r.kEst))*r.pktTime*3/2 + r.suppressWindow() + r.gap()
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
		p = r.lm.loss
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

// reportInterval spaces hello and progress reports RTCP-style: all receivers together
// use about reportShare of the sender's packet rate, at least minReportInterval and at
// most maxReportInterval apart.
func (r *Receiver) reportInterval() int64 {
	n := float64(max(r.members, r.heardCount()) + 1)
	if r.pktTime <= 0 {
		return minReportInterval
	}
	pktRate := 1e9 / float64(r.pktTime)
	return min(max(minReportInterval, int64(n/(reportShare*pktRate)*1e9)), maxReportInterval)
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
	if !r.haveRef || r.lm.windows < 2 {
		return false
	}
	ref := r.lossRef
	if r.isOutlier() {
		// An outlier's loss is its own; the sender uses its reports only once nobody
		// else is left, to fit the rate to the slow receiver.
		ref = 0.08
	}
	thr := ref + max(0.02, ref/2, 2*math.Sqrt(ref/lossWindow))
	return r.lm.last > thr && r.lm.prev > thr
}

// congSpacing is the least time between congestion reports of one receiver (and after
// hearing another's): long enough for the sender to react and the loss to be measured
// again.
func (r *Receiver) congSpacing() int64 {
	if r.isOutlier() {
		return max(4*r.rtt.srtt, int64(250*time.Millisecond))
	}
	return max(4*r.rtt.srtt, int64(50*time.Millisecond))
}
