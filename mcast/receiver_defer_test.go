package mcast

import (
	"bytes"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// TestDeferredChunkNeedsNoTables: a chunk the consumer defers (its manifest piece is
// not in yet) is offered again without asking for the large code's tables when it
// needs no rebuild from parity (bench/trust.sh caught receivers building them, 0.2 CPU
// s and 74 MiB, for deferred chunks).
func TestDeferredChunkNeedsNoTables(t *testing.T) {
	now := time.Unix(0, 0)
	tablesAsked, offers := 0, 0
	r := NewReceiver(ReceiverConfig{
		FECReady: func() bool { tablesAsked++; return false },
		Deliver: func(i int, b []byte) error {
			offers++
			if offers < 3 {
				return ErrDeferred
			}
			return nil
		},
	}, now)
	r.Handle(wire.AppendAnnounce(nil, testHeader, &wire.Announce{Final: true, Rate: 1e6, Chunks: 1, MaxChunk: 4096, BlockSize: 1024}), now)
	chunk := bytes.Repeat([]byte{7}, 4000)
	for b := range 4 {
		p := chunk[b*1024 : min((b+1)*1024, len(chunk))]
		p = append(p, make([]byte, 1024-len(p))...)
		r.Handle(wire.AppendData(nil, testHeader, &wire.Data{Seq: uint32(b), ChunkLen: 4000, Block: uint32(b), Payload: p}), now)
	}
	for range 10 {
		now = r.Poll(now.Add(10*time.Millisecond), func([]byte) {})
	}
	if offers < 3 || !r.Complete() {
		t.Fatalf("offered %d times, complete %v", offers, r.Complete())
	}
	if tablesAsked != 0 {
		t.Fatalf("the tables were asked for %d times for a chunk that needed no parity", tablesAsked)
	}
	if d := r.Stats().Deferred; d != 2 {
		t.Fatalf("%d deferrals counted, want 2", d)
	}
}
