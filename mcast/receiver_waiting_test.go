package mcast

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
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

// TestReceiverWaitingFull: a window full of chunks out for delivery waits for the
// consumer, unless a lead chunk (the manifest the held ones may wait for) still lacks
// blocks: that comes from the sender, in the lead chunks' own window.
func TestReceiverWaitingFull(t *testing.T) {
	for _, lead := range []uint32{0, 2} {
		now := time.Unix(1000, 0)
		r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(1, 2))}, now)
		a := baseAnnounce()
		a.Chunks, a.Lead = 40, lead
		r.Handle(hostileAnnounce(testHeader.Node, a), now)
		seq := uint32(0)
		for c := range uint32(2*DefaultWindow + 4) {
			sendChunk(r, c, &seq, now)
		}
		if n := len(r.Ready()); n != 2*DefaultWindow+4 {
			t.Fatalf("%d chunks out", n)
		}
		if got, want := r.Waiting(), lead > 0; got != want {
			t.Fatalf("lead %d, window full of chunks out for delivery: waiting %v, want %v", lead, got, want)
		}
	}
}
