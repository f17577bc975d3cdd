package mcast

import (
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// TestLoneRetryAfterSilence: a receiver whose delay estimate is inflated to seconds (a
// TCG VM whose own backlog ends up in srtt: bench/RESULTS.md, netboot) and that is left
// alone at the end of a session asks again within about a second of silence, for a
// partial chunk and for a whole one, instead of every 2·srtt + 4·rttvar (~13 s in the
// VM, ~20 s here).
func TestLoneRetryAfterSilence(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	seq := uint32(0)
	for c := range uint32(6) {
		sendChunk(r, c, &seq, now)
	}
	// Chunk 6 loses its last 10 blocks; chunk 7 never shows up at all.
	for b := range uint32(90) {
		r.Handle(hostileData(testHeader.Node, wire.Data{Seq: seq, Chunk: 6, Block: b}), now)
		seq++
	}
	for range 8 {
		r.rtt.Sample(int64(5*time.Second), int64(5*time.Second))
	}
	if d := 2*r.rtt.SRTT() + 4*r.rtt.RTTVar(); d < int64(10*time.Second) {
		t.Fatalf("setup: 2·srtt+4·rttvar = %v, want an inflated estimate", time.Duration(d))
	}
	asks := map[uint32][]time.Duration{}
	start := now
	for now.Sub(start) < 30*time.Second {
		for c := range requested(r, now) {
			asks[c] = append(asks[c], now.Sub(start))
		}
		now = now.Add(10 * time.Millisecond)
	}
	for _, c := range []uint32{6, 7} {
		a := asks[c]
		if len(a) < 3 {
			t.Fatalf("chunk %d asked for %d times in 30 s of silence (%v), want a retry about every second", c, len(a), a)
		}
		for i := 1; i < len(a); i++ {
			if gap := a[i] - a[i-1]; gap > 1500*time.Millisecond {
				t.Fatalf("chunk %d: %v between requests in silence (asks at %v)", c, gap, a)
			}
		}
		t.Logf("ASSERT chunk %d asked %d times in 30 s of silence, first at %v", c, len(a), a[0])
	}
}
