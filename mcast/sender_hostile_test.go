package mcast

import (
	"bytes"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// drainBytes polls s until it is idle (or until is reached) and returns the data
// bytes it sent.
func drainBytes(t *testing.T, s *Sender, now, until time.Time) (uint64, time.Time) {
	t.Helper()
	var n uint64
	for now.Before(until) {
		sent := false
		next := s.Poll(now, func(p []byte) {
			if h, _, err := wire.ParseHeader(p); err == nil && h.Type == wire.TypeData {
				n += uint64(len(p))
				sent = true
			}
		})
		if !sent && !s.hasWork() {
			break
		}
		now = next
	}
	return n, now
}

// TestSenderAmplification: one forged 818-byte request (64 needs x 32768 missing
// blocks) made the sender transmit 720 MB. Now a partial need asks for at most the
// chunk's K, a chunk's repairs per round are bounded, and one node may have at most
// peerBudget blocks queued: the factor (sender bytes caused / request bytes) is logged.
func TestSenderAmplification(t *testing.T) {
	const chunkLen = 1 << 20
	src := memSource{}
	for i := range 64 {
		src.chunks = append(src.chunks, bytes.Repeat([]byte{byte(i + 1)}, chunkLen))
	}
	now := time.Unix(1000, 0)
	newSender := func() *Sender {
		s, err := NewSender(SenderConfig{SessionID: testHeader.Session, MaxChunk: chunkLen, FixedRate: true, MaxRate: 1e9}, src, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		missing uint32
	}{{"partial needs of 32768", 32768}, {"whole needs", 0}} {
		s := newSender()
		needs := make([]wire.Need, 64)
		for i := range needs {
			needs[i] = wire.Need{Chunk: uint32(i), Missing: tc.missing}
		}
		req := requestSeen(99, 0, needs...)
		s.Handle(req, now)
		sent, _ := drainBytes(t, s, now, now.Add(time.Minute))
		factor := float64(sent) / float64(len(req))
		st := s.Stats()
		t.Logf("ASSERT one forged %d-byte request of 64 %s: the sender sent %.1f MB of data, amplification %.0fx "+
			"(old code: 720 MB, 880000x); needs over budget %d", len(req), tc.name, float64(sent)/1e6, factor, st.NeedsOverBudget)
		// The bound: one node's budget, 16 chunks of the largest size (+ margins).
		if limit := 1.1 * float64(peerBudgetChunks*chunkLen) * 1460 / 1400; float64(sent) > limit {
			t.Errorf("sent %d bytes, want at most %.0f", sent, limit)
		}
	}
	// Ten 62-byte requests a second, each one need of 32768 blocks of a chunk that was
	// served already, for 2 s: each chunk's repairs are bounded per round, and the
	// node's budget caps what it has queued.
	s := newSender()
	var reqBytes, sent uint64
	t0 := now
	for i := range 20 {
		req := requestSeen(99, s.seq, wire.Need{Chunk: uint32(i % 4), Missing: 32768})
		reqBytes += uint64(len(req))
		s.Handle(req, now)
		var n uint64
		n, now = drainBytes(t, s, now, t0.Add(time.Duration(i+1)*100*time.Millisecond))
		sent += n
		now = t0.Add(time.Duration(i+1) * 100 * time.Millisecond)
	}
	k := s.params.Blocks(chunkLen)
	t.Logf("ASSERT 20 forged 62-byte requests over 2 s: %.1f MB sent (at most K+margin = %d blocks per request), amplification %.0fx",
		float64(sent)/1e6, s.withMargin(k), float64(sent)/float64(reqBytes))
	if sent > uint64(20*s.withMargin(k)*s.pktLen) {
		t.Errorf("sent %d bytes for 20 one-need requests", sent)
	}
}

// TestSenderDoneFollowsLatestWord: a done report is believed only if it claims every
// chunk of the final count, and a node that reported done and then asks or reports
// progress (a later horizon) is not done any more; an older request overtaken by the
// done report does not undo it.
func TestSenderDoneFollowsLatestWord(t *testing.T) {
	s, now := newTestSender(t, 4)
	doneRep := func(node uint64, done, known, seen uint32, isDone bool) []byte {
		h := testHeader
		h.Node = node
		return wire.AppendReport(nil, h, &wire.Report{Progress: wire.Progress{Done: done, Known: known, Loss: wire.LossUnknown, Recent: wire.LossUnknown, Seen: seen}, Done: isDone})
	}
	isDone := func(node uint64) bool {
		for _, r := range s.Receivers() {
			if r.NodeID == node {
				return r.Done
			}
		}
		return false
	}
	s.seq = 1000
	s.Handle(doneRep(5, 3, 4, 900, true), now) // 3 of 4 chunks: not believable
	s.Handle(doneRep(6, 4, 4, 900, true), now)
	a5, a6 := isDone(5), isDone(6)
	s.Handle(requestSeen(6, 899, wire.Need{Chunk: 1}), now) // older than the done report
	stale := isDone(6)
	s.Handle(requestSeen(6, 950, wire.Need{Chunk: 1}), now) // a later word
	afterReq := isDone(6)
	s.Handle(doneRep(6, 4, 4, 960, true), now)
	s.Handle(doneRep(6, 1, 4, 970, false), now)
	afterRep := isDone(6)
	t.Logf("ASSERT done 3/4 believed %v; done 4/4 %v; after an older request %v; after a later request %v; after a later progress report %v; conflicts %d",
		a5, a6, stale, afterReq, afterRep, s.Stats().DoneConflicts)
	if a5 || !a6 || !stale || afterReq || afterRep || s.Stats().DoneConflicts != 3 {
		t.Fatal("done does not follow the receiver's latest word")
	}
}
