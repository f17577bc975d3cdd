package mcast

import (
	"errors"
	"testing"
)

// TestReceiverWaiting: a receiver waits for its sender while it lacks blocks and has
// room for them, not once every chunk it lacks is complete and out for delivery.
func TestReceiverWaiting(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	if !r.Waiting() {
		t.Fatal("joined with nothing: not waiting")
	}
	seq := uint32(0)
	for c := range uint32(8) {
		sendChunk(r, c, &seq, now)
	}
	ds := r.Ready()
	if len(ds) != 8 || r.Waiting() {
		t.Fatalf("every chunk out for delivery (%d): waiting %v", len(ds), r.Waiting())
	}
	r.Settle(ds[0].Index, ErrDeferred, now)
	if r.Waiting() {
		t.Fatal("one chunk deferred, held: waiting")
	}
	r.Settle(ds[1].Index, errors.New("bad checksum"), now) // rejected: fetched again
	if !r.Waiting() {
		t.Fatal("a rejected chunk to fetch again: not waiting")
	}
}
