package mcast

import (
	"bytes"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

type memSource struct{ chunks [][]byte }

func (m memSource) Meta() []byte                { return []byte("m") }
func (m memSource) ChunkCount() (int, bool)     { return len(m.chunks), true }
func (m memSource) Chunk(i int) ([]byte, error) { return m.chunks[i], nil }

func newTestSender(t *testing.T, chunks int) (*Sender, time.Time) {
	t.Helper()
	src := memSource{}
	for i := range chunks {
		src.chunks = append(src.chunks, bytes.Repeat([]byte{byte(i + 1)}, 100*64-10))
	}
	now := time.Unix(1000, 0)
	s, err := NewSender(SenderConfig{SessionID: testHeader.Session, BlockSize: 64, MaxChunk: 100 * 64,
		FixedRate: true, MaxRate: 1e9}, src, now)
	if err != nil {
		t.Fatal(err)
	}
	return s, now
}

func requestPkt(node uint64, needs ...wire.Need) []byte {
	// seen: a receiver that has seen everything these tests' senders sent (< 2^30 packets).
	return requestSeen(node, 1<<30, needs...)
}

func requestSeen(node uint64, seen uint32, needs ...wire.Need) []byte {
	h := testHeader
	h.Node = node
	return wire.AppendRequest(nil, h, &wire.Request{Progress: wire.Progress{Loss: wire.LossUnknown, Recent: wire.LossUnknown, Seen: seen}, Needs: needs})
}

// drain polls until the sender is idle and returns the data packets by chunk.
func drain(t *testing.T, s *Sender, now time.Time) (map[uint32][]uint32, time.Time) {
	t.Helper()
	got := map[uint32][]uint32{}
	for range 100000 {
		sent := false
		next := s.Poll(now, func(p []byte) {
			h, body, err := wire.ParseHeader(p)
			if err != nil {
				t.Fatal(err)
			}
			if h.Type == wire.TypeData {
				d, err := wire.ParseData(h, body)
				if err != nil {
					t.Fatal(err)
				}
				got[d.Chunk] = append(got[d.Chunk], d.Block)
				sent = true
			}
		})
		if !sent && !s.hasWork() {
			return got, now
		}
		now = next
	}
	t.Fatal("sender never idle")
	return nil, now
}

// TestSenderMergesRequests: no chunk twice, the largest deficit wins, a whole-chunk
// request absorbs a partial one.
func TestSenderMergesRequests(t *testing.T) {
	s, now := newTestSender(t, 3)
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}, wire.Need{Chunk: 1}), now)
	s.Handle(requestPkt(2, wire.Need{Chunk: 0}, wire.Need{Chunk: 1}), now)
	got, now := drain(t, s, now)
	if len(got[0]) != 100 || len(got[1]) != 100 || len(got[2]) != 0 {
		t.Fatalf("whole chunks sent %d, %d, %d blocks; want 100, 100, 0", len(got[0]), len(got[1]), len(got[2]))
	}
	// Partial needs 5 and 9 for chunk 0 merge to max: 9 (+1 margin, no loss known).
	s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 5}), now)
	s.Handle(requestPkt(2, wire.Need{Chunk: 0, Missing: 9}), now)
	// A partial need for chunk 1, then a whole one: the whole absorbs it.
	s.Handle(requestPkt(1, wire.Need{Chunk: 1, Missing: 3}), now)
	s.Handle(requestPkt(3, wire.Need{Chunk: 1}), now)
	got, _ = drain(t, s, now)
	t.Logf("ASSERT repairs: chunk 0 %d blocks (needs 5, 9), chunk 1 %d blocks (needs 3, whole); stats %+v", len(got[0]), len(got[1]), s.Stats())
	if len(got[0]) != 10 {
		t.Errorf("chunk 0 repair sent %d blocks, want 10 (max deficit 9 + margin 1)", len(got[0]))
	}
	if len(got[1]) != 100 {
		t.Errorf("chunk 1 sent %d blocks, want 100 (whole absorbs partial)", len(got[1]))
	}
	for _, b := range got[0] {
		if b < 100 {
			t.Errorf("repair sent data block %d, want fresh parity only", b)
		}
	}
}

// TestSenderFreshParity: repeated repairs never repeat a parity index until all M are
// used, and a replacement sender honours the receivers' nextParity hint.
func TestSenderFreshParity(t *testing.T) {
	s, now := newTestSender(t, 1)
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	_, now = drain(t, s, now)
	seen := map[uint32]bool{}
	m := int(s.params.Parity(100))
	sent := 0
	for sent < m {
		s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 3}), now)
		var got map[uint32][]uint32
		got, now = drain(t, s, now)
		for _, b := range got[0] {
			if sent < m && seen[b] {
				t.Fatalf("parity block %d repeated after %d of %d", b, sent, m)
			}
			seen[b] = true
			sent++
		}
	}
	t.Logf("ASSERT %d repair blocks, all distinct parity indexes of M=%d", sent, m)

	s2, now2 := newTestSender(t, 1)
	s2.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 2, NextParity: 7}), now2)
	got, _ := drain(t, s2, now2)
	if len(got[0]) == 0 || got[0][0] != 100+7 {
		t.Errorf("replacement sender's first repair block %v, want parity index 7 (block 107)", got[0])
	}
}

// TestSenderAcksDone: done reports are acknowledged in one batch; the sender lists the
// receivers it heard.
func TestSenderAcksDone(t *testing.T) {
	s, now := newTestSender(t, 1)
	for id := uint64(1); id <= 200; id++ {
		h := testHeader
		h.Node = id
		s.Handle(wire.AppendReport(nil, h, &wire.Report{Progress: wire.Progress{Done: 1, Known: 1, Loss: 5, Recent: 5}, Done: true}), now)
	}
	acked := 0
	for range 10 {
		now = s.Poll(now, func(p []byte) {
			h, body, _ := wire.ParseHeader(p)
			if h.Type == wire.TypeAck {
				a, err := wire.ParseAck(h, body, nil)
				if err != nil {
					t.Fatal(err)
				}
				acked += len(a.Nodes)
			}
		})
	}
	rs := s.Receivers()
	t.Logf("ASSERT acked %d of 200 done receivers; %d receivers listed; %d ack packets", acked, len(rs), s.Stats().Acks)
	if acked != 200 || len(rs) != 200 || !rs[0].Done || s.Stats().Acks != 2 {
		t.Errorf("acked %d, receivers %d, acks %d", acked, len(rs), s.Stats().Acks)
	}
}

// TestSenderNeedInFlight: a need written before the receiver saw the chunk's latest
// burst is answered by that burst, not served again; one written after it is served.
func TestSenderNeedInFlight(t *testing.T) {
	s, now := newTestSender(t, 2)
	s.Handle(requestSeen(1, 0, wire.Need{Chunk: 0}), now)
	got, now := drain(t, s, now)
	if len(got[0]) != 100 {
		t.Fatalf("first request: %d blocks, want 100", len(got[0]))
	}
	// Receiver 2 asked for chunk 0 having seen nothing of it (horizon 0): in flight.
	s.Handle(requestSeen(2, 0, wire.Need{Chunk: 0}), now)
	// Receiver 3 missed 4 blocks and wrote it after half the burst: 50 blocks after its
	// horizon cover 4.
	s.Handle(requestSeen(3, 50, wire.Need{Chunk: 0, Missing: 4}), now)
	got, now = drain(t, s, now)
	if len(got[0]) != 0 || s.Stats().NeedsInFlight != 2 {
		t.Fatalf("needs crossing the burst: %d blocks sent, NeedsInFlight %d; want 0, 2", len(got[0]), s.Stats().NeedsInFlight)
	}
	// Written after the whole burst (horizon 100): served with fresh parity.
	s.Handle(requestSeen(3, 100, wire.Need{Chunk: 0, Missing: 4}), now)
	got, _ = drain(t, s, now)
	t.Logf("ASSERT in-flight needs dropped: %d; a need after the burst got %d blocks", s.Stats().NeedsInFlight, len(got[0]))
	if len(got[0]) != 5 {
		t.Fatalf("need after the burst: %d blocks, want 5 (4 + margin)", len(got[0]))
	}
}

// TestSenderDataBeforeWaitingRepair: while the large code's tables are not ready, a
// whole chunk queued behind a repair goes first instead of the sender stalling.
func TestSenderDataBeforeWaitingRepair(t *testing.T) {
	src := memSource{}
	for i := range 2 {
		src.chunks = append(src.chunks, bytes.Repeat([]byte{byte(i + 1)}, 300*64))
	}
	now := time.Unix(1000, 0)
	ready := false
	s, err := NewSender(SenderConfig{SessionID: testHeader.Session, BlockSize: 64, MaxChunk: 300 * 64,
		FixedRate: true, MaxRate: 1e9, FECReady: func() bool { return ready }}, src, now)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	_, now = drain(t, s, now)
	s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 3}), now)
	s.Handle(requestPkt(2, wire.Need{Chunk: 1}), now)
	var first []uint32
	for len(first) < 300 {
		s.Poll(now, func(p []byte) {
			h, body, _ := wire.ParseHeader(p)
			if h.Type == wire.TypeData {
				d, _ := wire.ParseData(h, body)
				first = append(first, d.Chunk)
			}
		})
		now = now.Add(time.Millisecond)
	}
	for i, c := range first[:300] {
		if c != 1 {
			t.Fatalf("packet %d is of chunk %d; want chunk 1's data before the waiting repair", i, c)
		}
	}
	ready = true
	got, _ := drain(t, s, now)
	repair := len(got[0])
	for _, c := range first[300:] {
		if c == 0 {
			repair++
		}
	}
	t.Logf("ASSERT 300 data blocks of chunk 1 first; then the repair: %d blocks of chunk 0", repair)
	if repair != 4 {
		t.Fatalf("repair sent %d blocks, want 4 (3 + margin)", repair)
	}
}
