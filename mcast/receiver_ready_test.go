package mcast

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// sendChunk hands r every data block of chunk c (baseAnnounce's geometry).
func sendChunk(r *Receiver, c uint32, seq *uint32, now time.Time) {
	for b := range uint32(100) {
		r.Handle(hostileData(testHeader.Node, wire.Data{Seq: *seq, Chunk: c, Block: b}), now)
		*seq++
	}
}

// requested lists the chunks r's requests name until now.
func requested(r *Receiver, now time.Time) map[uint32]bool {
	got := map[uint32]bool{}
	r.Poll(now, func(p []byte) {
		h, body, err := wire.ParseHeader(p)
		if err != nil || h.Type != wire.TypeRequest {
			return
		}
		q, err := wire.ParseRequest(h, body, nil)
		if err != nil {
			return
		}
		for _, n := range q.Needs {
			got[n.Chunk] = true
		}
	})
	return got
}

// TestReadyOwnership: a complete chunk comes out of Ready once, with its decoder; until
// it is settled the receiver takes no more of its blocks, never asks for it, and counts
// it as out; Settle(nil) makes it done, and a second Settle is ignored.
func TestReadyOwnership(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	seq := uint32(0)
	sendChunk(r, 3, &seq, now)
	ds := r.Ready()
	if len(ds) != 1 || ds[0].Index != 3 || ds[0].Dec == nil || !ds[0].Dec.Complete() {
		t.Fatalf("Ready = %+v, want chunk 3 with a complete decoder", ds)
	}
	d := ds[0]
	if again := r.Ready(); len(again) != 0 {
		t.Fatalf("second Ready = %+v, want nothing", again)
	}
	have, dup := d.Dec.Have(), r.Stats().DupBlocks
	r.Handle(hostileData(testHeader.Node, wire.Data{Seq: seq, Chunk: 3, Block: 120}), now) // parity of it
	seq++
	if d.Dec.Have() != have || r.Stats().DupBlocks != dup+1 {
		t.Fatalf("a block of a chunk out for delivery reached its decoder (have %d -> %d)", have, d.Dec.Have())
	}
	for i := range 50 {
		if req := requested(r, now.Add(time.Duration(i)*50*time.Millisecond)); req[3] {
			t.Fatalf("chunk 3 requested while out for delivery")
		}
	}
	if st := r.Stats(); st.Out != 1 || st.ChunksDone != 0 {
		t.Fatalf("out %d done %d, want 1, 0", st.Out, st.ChunksDone)
	}
	b, err := d.Dec.Bytes()
	if err != nil || len(b) != 6400 {
		t.Fatalf("Bytes: %d bytes, %v", len(b), err)
	}
	d.Dec.Release()
	r.Settle(3, nil, now)
	r.Settle(3, errTest, now) // settled already: ignored
	if st := r.Stats(); st.Out != 0 || st.ChunksDone != 1 || st.Corrupt != 0 || st.Bytes != 6400 {
		t.Fatalf("after Settle: %+v", st)
	}
	sendChunk(r, 3, &seq, now)
	if len(r.Ready()) != 0 {
		t.Fatal("a done chunk came out again")
	}
	t.Logf("ASSERT chunk 3 out once, no blocks or requests while out, done after Settle(nil)")
}

// TestReadyBound: chunks out for delivery count against MaxPartial like held ones: with
// every slot out, a new chunk is refused (DropWindow) until one is settled.
func TestReadyBound(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{maxPartial: 2})
	seq := uint32(0)
	sendChunk(r, 0, &seq, now)
	sendChunk(r, 1, &seq, now)
	sendChunk(r, 2, &seq, now) // slots: 0 and 1 out, nothing more taken
	ds := r.Ready()
	if len(ds) != 2 || r.Stats().Drops[wire.DropWindow] == 0 || r.byChunk[2] != nil {
		t.Fatalf("Ready %d, window drops %d, chunk 2 held %v", len(ds), r.Stats().Drops[wire.DropWindow], r.byChunk[2] != nil)
	}
	// Out for a long time: never evicted.
	later := now.Add(time.Minute)
	r.Handle(hostileData(testHeader.Node, wire.Data{Seq: seq, Chunk: 2, Block: 0}), later)
	seq++
	if r.Stats().Evicted != 0 || r.byChunk[2] != nil {
		t.Fatal("a chunk out for delivery was evicted")
	}
	r.Settle(ds[0].Index, nil, later)
	sendChunk(r, 2, &seq, later)
	if got := r.Ready(); len(got) != 1 || got[0].Index != 2 {
		t.Fatalf("after one settled: Ready %+v, want chunk 2", got)
	}
	t.Logf("ASSERT MaxPartial 2: two out, the third refused (%d window drops) until one settled", r.Stats().Drops[wire.DropWindow])
}

// TestReadyDeferred: a chunk settled with ErrDeferred (wrapped) is held whole and comes
// out of Ready again, after the next delivery or a few milliseconds later.
func TestReadyDeferred(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	seq := uint32(0)
	sendChunk(r, 5, &seq, now)
	d := r.Ready()[0]
	r.Settle(5, fmt.Errorf("queue full: %w", ErrDeferred), now)
	if st := r.Stats(); st.Deferred != 1 || st.Out != 0 || r.held != 1 || r.HasReady() {
		t.Fatalf("after deferral: %+v held %d", st, r.held)
	}
	now = r.Poll(now.Add(10*time.Millisecond), func([]byte) {})
	ds := r.Ready()
	if len(ds) != 1 || ds[0].Index != 5 || ds[0].Dec != d.Dec {
		t.Fatalf("re-offer: %+v", ds)
	}
	ds[0].Dec.Release()
	r.Settle(5, nil, now)
	if st := r.Stats(); st.ChunksDone != 1 || r.held != 0 || st.Out != 0 {
		t.Fatalf("after accepting the re-offer: %+v", st)
	}
	t.Logf("ASSERT deferred once, offered again 10 ms later with the same decoder, then done")
}

// TestReadyRejectKeepsData is TestReceiverRejectKeepsData with the rebuild on another
// goroutine and the verdict given a step later: the rule is the same (the first
// rejection of a chunk rebuilt with parity keeps its 99 received data blocks, a second
// starts from nothing).
func TestReadyRejectKeepsData(t *testing.T) {
	now := time.Unix(1000, 0)
	s, _ := newTestSender(t, 1)
	r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(7, 8))}, now)
	type verdict struct {
		i   int
		err error
	}
	results := make(chan verdict, 4)
	rejects, out := 0, 0
	for i := 0; i < 200000 && !r.Complete(); i++ {
		var pkts [][]byte
		next := s.Poll(now, func(p []byte) { pkts = append(pkts, append([]byte(nil), p...)) })
		rn := r.Poll(now, func(p []byte) { pkts = append(pkts, append([]byte(nil), p...)) })
		for _, p := range pkts {
			h, body, _ := wire.ParseHeader(p)
			if h.Node != s.NodeID() {
				s.Handle(p, now)
				continue
			}
			if d, err := wire.ParseData(h, body); err == nil && d.Block == 5 && r.stats.Corrupt == 0 {
				continue
			}
			r.Handle(p, now)
		}
		for _, d := range r.Ready() {
			out++
			reject := rejects < 2
			if reject {
				rejects++
			}
			go func() { // a worker: the rebuild runs here, off the loop
				_, err := d.Dec.Bytes()
				if err == nil && reject {
					err = errTest
				}
				if err == nil {
					d.Dec.Release()
				}
				results <- verdict{d.Index, err}
			}()
		}
		if out > 0 {
			v := <-results
			out--
			r.Settle(v.i, v.err, now)
			continue
		}
		now = earliest(next, rn)
	}
	st := r.Stats()
	t.Logf("ASSERT rejected twice through Settle: kept %d data blocks after the first rejection, complete %v, corrupt %d",
		st.KeptBlocks, r.Complete(), st.Corrupt)
	if st.KeptBlocks != 99 || !r.Complete() || st.Corrupt != 2 {
		t.Fatal("rejected rebuild")
	}
}

// TestReadyRejectBound: a chunk rejected maxRejects times stops the receiver, as with
// Deliver.
func TestReadyRejectBound(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	seq := uint32(0)
	for n := 1; n <= maxRejects; n++ {
		now = now.Add(time.Duration(2 * maxRejectWait))
		sendChunk(r, 0, &seq, now)
		ds := r.Ready()
		if len(ds) != 1 {
			t.Fatalf("rejection %d: Ready %d", n, len(ds))
		}
		r.Settle(0, errTest, now)
	}
	if err := r.Err(); !errors.Is(err, ErrSession) || !errors.Is(err, errTest) {
		t.Fatalf("after %d rejections: err %v", maxRejects, err)
	}
	t.Logf("ASSERT %d rejections of one chunk through Settle stop the receiver: %v", maxRejects, r.Err())
}
