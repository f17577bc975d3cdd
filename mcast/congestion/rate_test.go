package congestion

import (
	"iter"
	"slices"
	"testing"
	"time"
)

func peers(ps ...*Peer) iter.Seq[*Peer] { return slices.Values(ps) }

// tick runs one interval of 50 ms at rate with the rate fully used.
func tick(rc *Controller, now time.Time, rate float64, sent *uint64, ps iter.Seq[*Peer]) float64 {
	*sent += uint64(rate * 0.05)
	r, ok := rc.Tick(Input{Now: now, Rate: rate, Sent: *sent, Adapt: true, Peers: ps, RefWindow: 2 * time.Second})
	if !ok {
		panic("not adapted")
	}
	return r
}

func TestControllerSlowStartThenCongestion(t *testing.T) {
	now := time.Unix(0, 0)
	var rc Controller
	rc.Init(now, 1e5, 1e9, 1464, nil)
	p := &Peer{}
	var sent uint64
	rate := 1e7
	// A receiver heard, no loss report yet: growth ×1.5 per interval while the rate
	// is used.
	now = now.Add(50 * time.Millisecond)
	p.Last = now
	if r := tick(&rc, now, rate, &sent, peers(p)); r != rate*1.5 {
		t.Fatalf("slow start: %v, want %v", r, rate*1.5)
	}
	rate *= 1.5
	// A clean report: still slow start.
	now = now.Add(50 * time.Millisecond)
	p.Last, p.LastLoss, p.Recent = now, now, 0
	if r := tick(&rc, now, rate, &sent, peers(p)); r != rate*1.5 {
		t.Fatalf("slow start with a clean report: %v", r)
	}
	rate *= 1.5
	// Severe loss ends slow start: the rate drops to just under what got through.
	now = now.Add(50 * time.Millisecond)
	p.Last, p.LastLoss, p.Recent = now, now, 0.3
	r := tick(&rc, now, rate, &sent, peers(p))
	if want := rate * 0.95 * 0.7 / (1 - 0.0025); r < want*0.999 || r > want*1.001 || rc.Decreases() != 1 {
		t.Fatalf("congestion: %v, want 0.95·(1-L)/(1-F) of it, F = 0.0025 (the floor crept 2.5 points/s for 50 ms): %v; decreases %d", r, want, rc.Decreases())
	}
	rate = r
	// The report from before the decrease no longer counts, and slow start is over:
	// the rate grows by 4 % an interval.
	now = now.Add(50 * time.Millisecond)
	if r := tick(&rc, now, rate, &sent, peers(p)); r != rate*1.04 {
		t.Fatalf("after a decrease: %v, want %v", r, rate*1.04)
	}
	rate *= 1.04
	// A congested word after the decrease settled holds the rate until fresh reports.
	now = now.Add(time.Second)
	p.Last, p.LastLoss, p.Recent = now.Add(-300*time.Millisecond), now.Add(-300*time.Millisecond), 0.3
	sent += uint64(rate) // the rate was used all along
	if r := tick(&rc, now, rate, &sent, peers(p)); r != rate {
		t.Fatalf("after bad news, silence: %v, want it held at %v", r, rate)
	}
}

func TestControllerBounds(t *testing.T) {
	now := time.Unix(0, 0)
	var rc Controller
	rc.Init(now, 1e5, 2e6, 1464, nil)
	var sent uint64
	rate := 1.9e6
	now = now.Add(50 * time.Millisecond)
	heard := peers(&Peer{Last: now})
	if r := tick(&rc, now, rate, &sent, heard); r != 2e6 {
		t.Fatalf("%v, want the 2e6 ceiling", r)
	}
	// Not adapting: the rate stays, bookkeeping goes on.
	if r, ok := rc.Tick(Input{Now: now.Add(50 * time.Millisecond), Rate: 5, Adapt: false}); ok || r != 5 {
		t.Fatalf("Adapt false gave %v, %v", r, ok)
	}
	// Nobody heard: no news is no reason to speed up.
	if r := tick(&rc, now.Add(150*time.Millisecond), 1e6, &sent, peers()); r != 1e6 {
		t.Fatalf("grew to %v with nobody heard", r)
	}
	// An idle sender (rate unused) does not probe up.
	if r, _ := rc.Tick(Input{Now: now.Add(100 * time.Millisecond), Rate: 1e6, Sent: sent, Adapt: true, Peers: heard}); r != 1e6 {
		t.Fatalf("unused rate grew to %v", r)
	}
}

func TestControllerIgnoresOutliers(t *testing.T) {
	now := time.Unix(0, 0)
	var rc Controller
	rc.Init(now, 1e5, 1e9, 1464, nil)
	var sent uint64
	now = now.Add(50 * time.Millisecond)
	good := &Peer{Last: now, LastLoss: now, Recent: 0}
	bad := &Peer{Last: now, LastLoss: now, Recent: 0.5, Outlier: true}
	if r := tick(&rc, now, 1e7, &sent, peers(good, bad)); r != 1.5e7 {
		t.Fatalf("an outlier's loss steered the rate: %v", r)
	}
}
