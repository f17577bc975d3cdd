package mcast

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// hostileAnnounce is an announce of testHeader's session from node.
func hostileAnnounce(node uint64, a announce) []byte {
	h := testHeader
	h.node = node
	if a.rate == 0 {
		a.rate = 1e6
	}
	if a.lossRef == 0 {
		a.lossRef = lossUnknown
	}
	return appendAnnounce(nil, h, &a)
}

// baseAnnounce is the session the hostile tests' receivers join: 8 chunks of up to
// 100 blocks of 64 bytes.
func baseAnnounce() announce {
	return announce{final: true, chunks: 8, maxChunk: 64 * 100, blockSize: 64, meta: []byte("m")}
}

func joinedReceiver(t *testing.T, cfg ReceiverConfig) (*Receiver, time.Time) {
	t.Helper()
	now := time.Unix(1000, 0)
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	r := NewReceiver(cfg, now)
	r.Handle(hostileAnnounce(testHeader.node, baseAnnounce()), now)
	if !r.joined {
		t.Fatal("did not join")
	}
	return r, now
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestReceiverAnnounceChunkBound: an announce with a chunk count of 2^32-1 (the
// FuzzReceiver crasher: every receiver died of out-of-memory in grow) is dropped and
// counted, before and after joining; one at MaxChunks costs one bit per chunk.
func TestReceiverAnnounceChunkBound(t *testing.T) {
	huge := baseAnnounce()
	huge.chunks = 1<<32 - 1
	huge.final = false
	r, now := joinedReceiver(t, ReceiverConfig{})
	r.Handle(hostileAnnounce(testHeader.node, huge), now)
	fresh := NewReceiver(ReceiverConfig{}, now)
	fresh.Handle(hostileAnnounce(testHeader.node, huge), now)
	t.Logf("ASSERT count 2^32-1: joined receiver has %d chunks, drops %s; fresh receiver joined=%v, drops %s",
		r.done.len(), r.stats.Drops.String(), fresh.joined, fresh.stats.Drops.String())
	if r.done.len() != 8 || r.stats.Drops[DropRange] != 1 || fresh.joined || fresh.stats.Drops[DropRange] != 1 {
		t.Fatalf("huge announce not dropped")
	}
	before := heapInUse()
	big := baseAnnounce()
	big.chunks, big.final = DefaultMaxChunks, false
	r2 := NewReceiver(ReceiverConfig{}, now)
	r2.Handle(hostileAnnounce(testHeader.node, big), now)
	for i := range 20 {
		r2.Poll(now.Add(time.Duration(i)*time.Second), func([]byte) {})
	}
	grew := int64(heapInUse()) - int64(before)
	t.Logf("ASSERT an announce of %d chunks (DefaultMaxChunks) grew the heap by %d KiB (bound 1024 KiB)", big.chunks, grew>>10)
	if !r2.joined || r2.done.len() != DefaultMaxChunks || grew > 1<<20 {
		t.Fatalf("joined %v with %d chunks; heap grew %d bytes", r2.joined, r2.done.len(), grew)
	}
	runtime.KeepAlive(r2)
}

// hostileData is a data packet of testHeader's session (the base announce's geometry).
func hostileData(node uint64, d data) []byte {
	h := testHeader
	h.node = node
	if d.chunkLen == 0 {
		d.chunkLen = 64 * 100
	}
	if d.payload == nil {
		d.payload = make([]byte, 64)
	}
	return appendData(nil, h, &d)
}

// TestReceiverSeqOutlier: one flipped bit in a data packet's seq is one outlier, not
// 67 million lost packets; a real jump (two packets agreeing, an outage) counts as one
// window lost; the horizon requests carry does not follow the outlier.
func TestReceiverSeqOutlier(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	seq := uint32(0)
	send := func(n int) {
		for range n {
			r.Handle(hostileData(testHeader.node, data{seq: seq, chunk: seq % 8, block: seq % 100}), now)
			seq++
			now = now.Add(10 * time.Microsecond)
		}
	}
	send(300)
	r.Handle(hostileData(testHeader.node, data{seq: seq ^ 1<<26, chunk: 1, block: 3}), now) // the flipped bit
	send(600)
	st := r.Stats()
	t.Logf("ASSERT a flipped seq bit: lost %d, loss %.4f, seq outliers %d, horizon %d (want %d)", st.Lost, st.Loss, st.SeqOutliers, r.horizon, seq)
	if st.Lost != 0 || st.Loss != 0 || st.SeqOutliers != 1 || r.horizon != seq {
		t.Fatalf("flipped seq counted as loss")
	}
	seq += 5000 // an outage: the stream really moved on
	send(300)
	st = r.Stats()
	t.Logf("ASSERT an outage of 5000 packets: lost %d (one window at most), outliers %d, horizon %d (want %d)", st.Lost, st.SeqOutliers, r.horizon, seq)
	if st.Lost == 0 || st.Lost > lossWindow || r.horizon != seq {
		t.Fatalf("outage: lost %d, horizon %d", st.Lost, r.horizon)
	}
	// A forged announce far ahead does not move the horizon either.
	a := baseAnnounce()
	a.seq = seq + 1<<30
	r.Handle(hostileAnnounce(testHeader.node, a), now)
	if r.horizon != seq {
		t.Fatalf("announce seq far ahead moved the horizon to %d", r.horizon)
	}
}
