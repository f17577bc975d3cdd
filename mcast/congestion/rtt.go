package congestion

import "time"

const (
	initialRTT = int64(10 * time.Millisecond)
	minRTT     = int64(100 * time.Microsecond)
)

// RTT smooths request-to-repair delays, in nanoseconds, the way TCP smooths round
// trips (RFC 6298). Call Init before use.
type RTT struct {
	srtt, rttvar int64
	samples      int
}

// Init sets the estimate to its prior (10 ms, variation 5 ms).
func (e *RTT) Init() { e.srtt, e.rttvar = initialRTT, initialRTT/2 }

// SRTT is the smoothed delay, ns.
func (e *RTT) SRTT() int64 { return e.srtt }

// RTTVar is the smoothed variation of the delay, ns.
func (e *RTT) RTTVar() int64 { return e.rttvar }

// Samples is the number of samples taken.
func (e *RTT) Samples() int { return e.samples }

// Sample takes a delay with the sender's queueing removed (net) and the raw one; the
// net value is used unless it looks implausibly small against the raw one.
func (e *RTT) Sample(net, raw int64) {
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
