package mcast

import (
	"bytes"
	"testing"
	"time"
)

// TestReceiverHoldsRebuildUntilTablesReady: a chunk that needs a GF(2^16) rebuild is
// held (not delivered, not refetched, not counted against MaxPartial) while FECReady
// says no, and delivered once it says yes; the first loss asks FECReady to start.
func TestReceiverHoldsRebuildUntilTablesReady(t *testing.T) {
	chunk := bytes.Repeat([]byte{7}, 300*64) // 300 blocks: over GF(2^16)
	now := time.Unix(1000, 0)
	s, err := NewSender(SenderConfig{SessionID: testHeader.session, BlockSize: 64, MaxChunk: len(chunk),
		FixedRate: true, MaxRate: 1e9}, memSource{chunks: [][]byte{chunk}}, now)
	if err != nil {
		t.Fatal(err)
	}
	ready, asked := false, 0
	var got []byte
	r := NewReceiver(ReceiverConfig{
		FECReady: func() bool { asked++; return ready },
		Deliver:  func(_ int, c []byte) error { got = append([]byte(nil), c...); return nil },
	}, now)
	// Everything the sender emits reaches the receiver except data block 5; then one
	// repair's parity makes the chunk complete.
	feed := func() {
		for range 2000 {
			s.Poll(now, func(p []byte) {
				h, body, _ := parseHeader(p)
				if h.typ == typeData {
					if d, _ := parseData(h, body); d.block == 5 {
						return
					}
				}
				r.Handle(p, now)
			})
			now = now.Add(time.Millisecond)
			if !s.hasWork() && now.After(time.Unix(1001, 0)) {
				return
			}
		}
	}
	s.Handle(requestPkt(1, need{chunk: 0}), now)
	feed()
	s.Handle(requestPkt(1, need{chunk: 0, missing: 1}), now)
	feed()
	r.Poll(now, func([]byte) {})
	if got != nil || r.held != 1 || asked == 0 {
		t.Fatalf("before the tables: delivered %v, held %d, FECReady asked %d times; want nothing, 1, > 0",
			got != nil, r.held, asked)
	}
	ready = true
	r.Poll(now.Add(2*time.Millisecond), func([]byte) {})
	t.Logf("ASSERT held 1 chunk while FECReady said no (asked %d times), delivered it once it said yes", asked)
	if !bytes.Equal(got, chunk) || r.held != 0 || !r.Complete() {
		t.Fatalf("after the tables: delivered intact %v, held %d, complete %v", bytes.Equal(got, chunk), r.held, r.Complete())
	}
}
