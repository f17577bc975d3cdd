package mcast

import (
	"testing"
	"time"
)

// TestHold: a chunk the consumer holds is done without a byte received, never
// requested, its partial blocks dropped; a chunk out for delivery is not taken from
// its delivery; a receiver whose every chunk is held is complete.
func TestHold(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	n := r.Session().Chunks
	seq := uint32(0)
	sendChunk(r, 5, &seq, now) // out for delivery
	if r.Hold(5, now) {
		t.Fatal("Hold took a chunk out for delivery")
	}
	if !r.Hold(2, now) || r.Hold(2, now) || r.Hold(-1, now) || r.Hold(n, now) {
		t.Fatal("Hold: want true once for chunk 2, false again and out of range")
	}
	for i := range 40 {
		if req := requested(r, now.Add(time.Duration(i)*50*time.Millisecond)); req[2] {
			t.Fatal("a held chunk was requested")
		}
	}
	st := r.Stats()
	if st.ChunksDone != 1 || st.ChunksHeld != 1 || st.Bytes != 0 {
		t.Fatalf("after Hold: done %d held %d bytes %d", st.ChunksDone, st.ChunksHeld, st.Bytes)
	}
	for _, d := range r.Ready() {
		d.Dec.Release()
		r.Settle(d.Index, nil, now)
	}
	for i := range n {
		r.Hold(i, now)
	}
	st = r.Stats()
	if st.ChunksDone != n || st.ChunksHeld != n-1 || r.Complete() != r.Session().Final {
		t.Fatalf("all held: done %d, held %d of %d, complete %v", st.ChunksDone, st.ChunksHeld, n, r.Complete())
	}
}
