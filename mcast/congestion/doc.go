// Package congestion is Discus's pacing and congestion control (docs/PROTOCOL.md §3
// item 5, §4.3, §4.4): the Pacer (a token bucket in wire bytes), the Controller (the
// adaptive, loss-driven rate with slow start and a learnt loss floor), the receivers'
// LossMeter (loss from data sequence numbers, robust to outliers) and RTT estimator,
// and the rules both ends of a session share: Congested, IsOutlier, ReportInterval,
// RefWindow.
//
// Nothing here knows a Sender or a Receiver. A Controller gets what one decision needs
// in an Input: the time, the rate it paced at, the bytes sent, and the receivers'
// latest words as Peers:
//
//	var rc congestion.Controller
//	rc.Init(now, minRate, maxRate, pktLen, nil)
//	if rate, ok := rc.Tick(congestion.Input{Now: now, Rate: pace.Rate(), Sent: sent,
//		Adapt: true, Peers: slices.Values(peers), RefWindow: window}); ok {
//		pace.SetRate(rate)
//	}
//
// All of it is deterministic and takes the time as an argument, so package
// mcast/simnet replays it exactly.
package congestion
