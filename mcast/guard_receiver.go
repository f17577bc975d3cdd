package mcast

import "time"

// echoSpacing is the least time between two reports a receiver sends because an ack
// named it while it was not complete.
const echoSpacing = int64(20 * time.Millisecond)

// ackHeard: an ack naming us while we are not complete means somebody reported done
// in our name (or an old ack arrived late). We say where we are at once, so the
// sender's latest word from us is ours and it does not count us done.
func (r *Receiver) ackHeard(nodes []uint64, t int64) {
	if !r.joined || r.Complete() || t < r.echoNext {
		return
	}
	for _, id := range nodes {
		if id == r.hdr.Node {
			r.echoNext = t + echoSpacing
			r.reportAt, r.reportNow, r.dirty = t, true, true
			r.stats.AckConflicts++
			return
		}
	}
}
