package congestion_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/discuscast/discus/mcast/congestion"
)

// One receiver reports 30 % loss: slow start ends and the rate falls to just under
// what got through.
func ExampleController() {
	now := time.Unix(0, 0)
	var rc congestion.Controller
	rc.Init(now, 125e3, 1.25e9, 1464, nil)
	peer := &congestion.Peer{}
	rate, sent := 10e6, uint64(0)
	for i, loss := range []float64{0, 0, 0.30} {
		now = now.Add(50 * time.Millisecond)
		sent += uint64(rate * 0.05)
		peer.Last, peer.LastLoss, peer.Recent = now, now, loss
		rate, _ = rc.Tick(congestion.Input{Now: now, Rate: rate, Sent: sent, Adapt: true,
			Peers: slices.Values([]*congestion.Peer{peer}), RefWindow: 2 * time.Second})
		fmt.Printf("interval %d: loss %2.0f%% -> %.1f MB/s\n", i, 100*loss, rate/1e6)
	}
	// Output:
	// interval 0: loss  0% -> 15.0 MB/s
	// interval 1: loss  0% -> 22.5 MB/s
	// interval 2: loss 30% -> 15.0 MB/s
}

// Receivers space their reports so that all together use 0.1 % of the packets.
func ExampleReportInterval() {
	for _, n := range []int{10, 300, 5000} {
		fmt.Println(n, congestion.ReportInterval(n, 70_000)) // 70,000 packets/s: ~100 MB/s
	}
	// Output:
	// 10 1s
	// 300 4.285714285s
	// 5000 10s
}
