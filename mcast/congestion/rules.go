package congestion

import (
	"math"
	"slices"
	"time"
)

// The rules both ends of a session apply, written once (docs/PROTOCOL.md §3 item 5,
// §4.4).

// LossWindow is the number of expected data packets per loss sample.
const LossWindow = 256

// minExcess is the least loss above the floor that counts as congestion.
const minExcess = 0.02

// Congested tells congestion from the loss floor: loss well above it, by at least
// 2 points, half the floor, or twice the sampling noise of a LossWindow estimate.
// The sender applies it to the receivers' 90th percentile against its floor, a
// receiver to its last two windows against the announced reference loss.
func Congested(loss, floor float64) bool {
	noise := 2 * math.Sqrt(floor/LossWindow)
	return loss > floor+max(minExcess, floor/2, noise)
}

// OutlierNoRef is the loss that marks an outlier before any reference loss exists.
const OutlierNoRef = 0.25

// IsOutlier is the rule both sides use: a receiver whose loss is well above the median
// of all receivers (ref) is served from the side queue and ignored by rate control.
func IsOutlier(loss, ref float64) bool {
	return loss > max(2*ref, ref+0.05)
}

// Report spacing, RTCP-style: all receivers together use about ReportShare of the
// sender's packet rate.
const (
	MinReportInterval = time.Second
	// MaxReportInterval keeps every receiver audible at least every 15 s (1.5 x this),
	// so a sender can tell a silent receiver from a slow one with a 30 s timeout.
	MaxReportInterval = 10 * time.Second
	ReportShare       = 0.001 // of the sender's packet rate, for all receivers' reports together
)

// ReportInterval is the nominal interval between one receiver's reports when n
// receivers (count yourself) share ReportShare of pktRate packets per second;
// MaxReportInterval while the rate is unknown.
func ReportInterval(n int, pktRate float64) time.Duration {
	if pktRate <= 0 {
		return MaxReportInterval
	}
	return min(max(time.Duration(float64(n)/(ReportShare*pktRate)*float64(time.Second)), MinReportInterval), MaxReportInterval)
}

// minRefWindow: the median loss (the reference) is taken over receivers whose last
// loss report is at most this old, or older while reports are spaced wider.
const minRefWindow = 2 * time.Second

// RefWindow is how old a receiver's last loss report may be and still count towards
// the median, with n receivers (plus one) at pktRate packets per second. Healthy
// receivers have little to ask and report only at the spaced interval, which grows as
// the rate falls; a fixed window would forget them and leave a lone struggling receiver
// to set the median, so that it would never count as an outlier and would drag the
// rate down for everyone. Receivers draw their interval from 0.5 to 1.5 times the
// nominal one.
func RefWindow(n int, pktRate float64) time.Duration {
	return max(minRefWindow, 2*ReportInterval(n, pktRate))
}

// MedianLoss is the reference loss the sender announces (docs/PROTOCOL.md §4.4): the
// median of the fresh loss reports in losses, which it sorts in place, taken from
// active receivers at work. It speaks for them (ok) only once at least half of them
// have measured their loss: early on, the first to report is often the one in trouble
// (it has the most to ask), and as the only figure it would never count as an outlier
// and would drag the rate down for everyone. Until then OutlierNoRef applies.
func MedianLoss(losses []float64, active int) (ref float64, ok bool) {
	if len(losses) == 0 || 2*len(losses) < active {
		return 0, false
	}
	slices.Sort(losses)
	return losses[(len(losses)-1)/2], true
}

// MarkOutlier is the sender's mark for a receiver whose loss report is fresh: against
// the median ref when there is one (haveRef), else against OutlierNoRef. others is how
// many other receivers the comparison rests on; a lone receiver is never an outlier
// (there is nobody to serve apart from it).
func MarkOutlier(loss, ref float64, haveRef bool, others int) bool {
	if others < 1 {
		return false
	}
	if !haveRef {
		return loss > OutlierNoRef
	}
	return IsOutlier(loss, ref)
}
