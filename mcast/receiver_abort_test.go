package mcast

import (
	"errors"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

func hostileAbort(node uint64, reason wire.AbortReason, chunk uint32) []byte {
	h := testHeader
	h.Node = node
	return wire.AppendAbort(nil, h, &wire.Abort{Reason: reason, Chunk: chunk})
}

// TestReceiverAbortKeyless: no single abort packet ends a keyless receiver (§3 item 1):
// the sender it follows must repeat it for a second with nothing else meanwhile; the
// sender's announces contradict a forger's aborts; another node's aborts never count.
func TestReceiverAbortKeyless(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	r.Handle(hostileAbort(testHeader.Node, wire.AbortCorrupt, 5), now)
	if r.Err() != nil {
		t.Fatalf("one abort ended the receiver: %v", r.Err())
	}
	// A forger's aborts between the live sender's announces: never 5 in a clean second.
	for i := range 100 {
		now = now.Add(50 * time.Millisecond)
		r.Handle(hostileAbort(testHeader.Node, wire.AbortCorrupt, 5), now)
		if i%4 == 0 {
			r.Handle(hostileAnnounce(testHeader.Node, baseAnnounce()), now)
		}
	}
	if r.Err() != nil {
		t.Fatalf("aborts contradicted by announces ended the receiver: %v", r.Err())
	}
	// Another node's aborts, however many.
	for range 100 {
		now = now.Add(50 * time.Millisecond)
		r.Handle(hostileAbort(testHeader.Node+1, wire.AbortCorrupt, 5), now)
	}
	if r.Err() != nil {
		t.Fatalf("another node's aborts ended the receiver: %v", r.Err())
	}
	// The sender that gave up: aborts every 50 ms and nothing else.
	start := now
	for r.Err() == nil && now.Sub(start) < 3*time.Second {
		now = now.Add(50 * time.Millisecond)
		r.Handle(hostileAbort(testHeader.Node, wire.AbortCorrupt, 5), now)
	}
	var ae *AbortError
	if !errors.As(r.Err(), &ae) || !errors.Is(r.Err(), ErrAborted) || ae.Reason != wire.AbortCorrupt || ae.Chunk != 5 {
		t.Fatalf("after %v of aborts: %v", now.Sub(start), r.Err())
	}
	if d := now.Sub(start); d < time.Second || d > 1200*time.Millisecond {
		t.Errorf("believed after %v of aborts, want about 1 s", d)
	}
	t.Logf("ASSERT a keyless receiver believed its sender's abort after %v: %v", now.Sub(start), r.Err())
}

// TestSenderAbort: after Abort the sender sends abort packets every 50 ms and nothing
// else, whatever it is asked.
func TestSenderAbort(t *testing.T) {
	now := time.Unix(1000, 0)
	s, err := NewSender(SenderConfig{SessionID: testHeader.Session, MaxChunk: 64 * 100, BlockSize: 64}, memSource{chunks: [][]byte{make([]byte, 6400), make([]byte, 6400)}}, now)
	if err != nil {
		t.Fatal(err)
	}
	s.Poll(now, func([]byte) {})
	s.Abort(wire.AbortStopped, wire.NoChunk)
	var types []wire.Type
	for range 40 { // 200 ms
		now = now.Add(5 * time.Millisecond)
		s.Poll(now, func(p []byte) {
			h, body, err := wire.ParseHeader(p)
			if err != nil {
				t.Fatal(err)
			}
			types = append(types, h.Type)
			if a, err := wire.ParseAbort(h, body); h.Type != wire.TypeAbort || err != nil || a.Reason != wire.AbortStopped {
				t.Fatalf("after Abort: %v %+v %v", h.Type, a, err)
			}
		})
	}
	if len(types) < 4 || len(types) > 5 {
		t.Errorf("%d aborts in 200 ms, want 4 or 5", len(types))
	}
	if s.Stats().Aborts != uint64(len(types)) || !s.Aborted() {
		t.Errorf("stats %d aborts, sent %d", s.Stats().Aborts, len(types))
	}
}
