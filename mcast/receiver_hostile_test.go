package mcast

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/congestion"
	"github.com/discuscast/discus/mcast/wire"
)

// hostileAnnounce is an announce of testHeader's session from node.
func hostileAnnounce(node uint64, a wire.Announce) []byte {
	h := testHeader
	h.Node = node
	if a.Rate == 0 {
		a.Rate = 1e6
	}
	if a.LossRef == 0 {
		a.LossRef = wire.LossUnknown
	}
	return wire.AppendAnnounce(nil, h, &a)
}

// baseAnnounce is the session the hostile tests' receivers join: 8 chunks of up to
// 100 blocks of 64 bytes.
func baseAnnounce() wire.Announce {
	return wire.Announce{Final: true, Chunks: 8, MaxChunk: 64 * 100, BlockSize: 64, Meta: []byte("m")}
}

func joinedReceiver(t *testing.T, cfg ReceiverConfig) (*Receiver, time.Time) {
	t.Helper()
	now := time.Unix(1000, 0)
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	r := NewReceiver(cfg, now)
	r.Handle(hostileAnnounce(testHeader.Node, baseAnnounce()), now)
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
	huge.Chunks = 1<<32 - 1
	huge.Final = false
	r, now := joinedReceiver(t, ReceiverConfig{})
	r.Handle(hostileAnnounce(testHeader.Node, huge), now)
	fresh := NewReceiver(ReceiverConfig{}, now)
	fresh.Handle(hostileAnnounce(testHeader.Node, huge), now)
	t.Logf("ASSERT count 2^32-1: joined receiver has %d chunks, drops %s; fresh receiver joined=%v, drops %s",
		r.done.len(), r.stats.Drops.String(), fresh.joined, fresh.stats.Drops.String())
	if r.done.len() != 8 || r.stats.Drops[wire.DropRange] != 1 || fresh.joined || fresh.stats.Drops[wire.DropRange] != 1 {
		t.Fatalf("huge announce not dropped")
	}
	before := heapInUse()
	big := baseAnnounce()
	big.Chunks, big.Final = DefaultMaxChunks, false
	r2 := NewReceiver(ReceiverConfig{}, now)
	r2.Handle(hostileAnnounce(testHeader.Node, big), now)
	for i := range 20 {
		r2.Poll(now.Add(time.Duration(i)*time.Second), func([]byte) {})
	}
	grew := int64(heapInUse()) - int64(before)
	t.Logf("ASSERT an announce of %d chunks (DefaultMaxChunks) grew the heap by %d KiB (bound 1024 KiB)", big.Chunks, grew>>10)
	if !r2.joined || r2.done.len() != DefaultMaxChunks || grew > 1<<20 {
		t.Fatalf("joined %v with %d chunks; heap grew %d bytes", r2.joined, r2.done.len(), grew)
	}
	runtime.KeepAlive(r2)
}

// hostileData is a data packet of testHeader's session (the base announce's geometry).
func hostileData(node uint64, d wire.Data) []byte {
	h := testHeader
	h.Node = node
	if d.ChunkLen == 0 {
		d.ChunkLen = 64 * 100
	}
	if d.Payload == nil {
		d.Payload = make([]byte, 64)
	}
	return wire.AppendData(nil, h, &d)
}

// TestReceiverSeqOutlier: one flipped bit in a data packet's seq is one outlier, not
// 67 million lost packets; a real jump (two packets agreeing, an outage) counts as one
// window lost; the horizon requests carry does not follow the outlier.
func TestReceiverSeqOutlier(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{})
	seq := uint32(0)
	send := func(n int) {
		for range n {
			r.Handle(hostileData(testHeader.Node, wire.Data{Seq: seq, Chunk: seq % 8, Block: seq % 100}), now)
			seq++
			now = now.Add(10 * time.Microsecond)
		}
	}
	send(300)
	r.Handle(hostileData(testHeader.Node, wire.Data{Seq: seq ^ 1<<26, Chunk: 1, Block: 3}), now) // the flipped bit
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
	if st.Lost == 0 || st.Lost > congestion.LossWindow || r.horizon != seq {
		t.Fatalf("outage: lost %d, horizon %d", st.Lost, r.horizon)
	}
	// A forged announce far ahead does not move the horizon either.
	a := baseAnnounce()
	a.Seq = seq + 1<<30
	r.Handle(hostileAnnounce(testHeader.Node, a), now)
	if r.horizon != seq {
		t.Fatalf("announce seq far ahead moved the horizon to %d", r.horizon)
	}
}

// TestReceiverAnnounceConflicts: once joined, an announce that disagrees with the
// session's geometry, final count or final meta is dropped and counted, never fatal.
func TestReceiverAnnounceConflicts(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{OnUpdate: func(SessionInfo) error { return nil }})
	for _, f := range []func(a *wire.Announce){
		func(a *wire.Announce) { a.BlockSize = 128 },
		func(a *wire.Announce) { a.MaxParity = 5 },
		func(a *wire.Announce) { a.MaxChunk = 64 * 50 },
		func(a *wire.Announce) { a.Chunks = 9 },
		func(a *wire.Announce) { a.Chunks = 7 },
		func(a *wire.Announce) { a.Final = false },
		func(a *wire.Announce) { a.Meta = []byte("other") },
	} {
		a := baseAnnounce()
		f(&a)
		r.Handle(hostileAnnounce(testHeader.Node, a), now)
		now = now.Add(10 * time.Millisecond)
	}
	st := r.Stats()
	t.Logf("ASSERT 7 disagreeing announces: drops %s, err %v, chunks %d, final %v, block size %d",
		st.Drops.String(), r.Err(), st.ChunksTotal, r.info.Final, r.info.BlockSize)
	if r.Err() != nil || st.Drops[wire.DropConflict] != 7 || st.ChunksTotal != 8 || !r.info.Final || r.info.BlockSize != 64 || string(r.meta) != "m" {
		t.Fatal("a disagreeing announce changed or stopped the session")
	}
}

// TestReceiverRefusalNotDecidedByOnePacket: an OnUpdate error drops the announce and
// the receiver goes on; an OnSession error leaves it unjoined, and only the same
// refused description heard persistently (5 announces over 1 s from one node) stops it.
func TestReceiverRefusalNotDecidedByOnePacket(t *testing.T) {
	now := time.Unix(1000, 0)
	grow := baseAnnounce()
	grow.Final = false
	r := NewReceiver(ReceiverConfig{OnUpdate: func(si SessionInfo) error {
		if string(si.Meta) != "m" {
			return errTest
		}
		return nil
	}}, now)
	r.Handle(hostileAnnounce(testHeader.Node, grow), now)
	bad := grow
	bad.Meta = []byte("forged")
	r.Handle(hostileAnnounce(testHeader.Node, bad), now)
	if r.Err() != nil || string(r.meta) != "m" || r.stats.Drops[wire.DropConflict] != 1 {
		t.Fatalf("one refused update: err %v meta %q", r.Err(), r.meta)
	}
	for i := range 6 {
		r.Handle(hostileAnnounce(testHeader.Node, bad), now.Add(time.Duration(i+1)*200*time.Millisecond))
	}
	t.Logf("ASSERT one refused update dropped; the same one persistently for 1.2 s: err %v", r.Err())
	if r.Err() == nil {
		t.Fatal("a persistently refused update did not stop the receiver")
	}

	refuse := true
	j := NewReceiver(ReceiverConfig{OnSession: func(si SessionInfo) error {
		if refuse || string(si.Meta) != "m" {
			return errTest
		}
		return nil
	}}, now)
	for i := range 4 {
		j.Handle(hostileAnnounce(testHeader.Node, baseAnnounce()), now.Add(time.Duration(i)*300*time.Millisecond))
	}
	early := j.Err()
	forged := baseAnnounce()
	forged.Meta = []byte("forged")
	j.Handle(hostileAnnounce(7, forged), now.Add(time.Second))
	j.Handle(hostileAnnounce(testHeader.Node, baseAnnounce()), now.Add(1200*time.Millisecond))
	t.Logf("ASSERT refused session: 4 announces over 0.9 s err %v, joined %v; the 5th after 1.2 s err %v (refused %d)",
		early, j.joined, j.Err(), j.stats.Refused)
	if early != nil || j.joined || j.Err() == nil {
		t.Fatal("refused session decided wrongly")
	}
	refuse = false
	k := NewReceiver(ReceiverConfig{OnSession: func(si SessionInfo) error {
		if string(si.Meta) != "m" {
			return errTest
		}
		return nil
	}}, now)
	k.Handle(hostileAnnounce(7, forged), now) // a forged first announce is refused...
	k.Handle(hostileAnnounce(testHeader.Node, baseAnnounce()), now.Add(time.Millisecond))
	if k.Err() != nil || !k.joined {
		t.Fatalf("the real announce after a refused forged one: err %v joined %v", k.Err(), k.joined)
	}
}

// TestReceiverForgedFirstCount: a forged first announce with a final count one too
// large does not strand the receiver: the sender's persistent announces replace it.
func TestReceiverForgedFirstCount(t *testing.T) {
	now := time.Unix(1000, 0)
	s, _ := newTestSender(t, 8)
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	delivered := 0
	r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(3, 4)), Deliver: func(int, []byte) error { delivered++; return nil }}, now)
	forged := wire.Announce{Final: true, Rate: 1e9, Chunks: 9, MaxChunk: 100 * 64, BlockSize: 64, Meta: []byte("m")}
	r.Handle(hostileAnnounce(testHeader.Node, forged), now)
	runPair(s, r, now, 20000)
	st := r.Stats()
	t.Logf("ASSERT forged final count 9 of 8: readopted %d times, complete %v with %d/%d chunks, delivered %d, conflicts %d",
		st.Readopted, r.Complete(), st.ChunksDone, st.ChunksTotal, delivered, st.Drops[wire.DropConflict])
	if !r.Complete() || st.ChunksTotal != 8 || delivered != 8 {
		t.Fatal("stranded by a forged first count")
	}
}

var errTest = errors.New("test: refused")

// runPair connects a sender and a receiver directly (no loss, no delay) until the
// receiver is complete or steps polls ran; it returns the virtual time then.
func runPair(s *Sender, r *Receiver, now time.Time, steps int) time.Time {
	for i := 0; i < steps && !r.Complete(); i++ {
		var out [][]byte
		next := s.Poll(now, func(p []byte) { out = append(out, append([]byte(nil), p...)) })
		rn := r.Poll(now, func(p []byte) { out = append(out, append([]byte(nil), p...)) })
		for _, p := range out {
			h, _, _ := wire.ParseHeader(p)
			if h.Node == s.NodeID() {
				r.Handle(p, now)
			} else {
				s.Handle(p, now)
			}
		}
		settleAll(r, now)
		now = earliest(next, rn)
	}
	return now
}

// settleAll accepts every chunk the receiver hands out (Ready) and releases its decoder.
func settleAll(r *Receiver, now time.Time) {
	for _, d := range r.Ready() {
		d.Dec.Release()
		r.Settle(d.Index, nil, now)
	}
}

// TestReceiverPoisonedLengths: data blocks claiming a wrong chunk length for 20 chunks
// (every partial slot) used to fix those chunks' lengths: the real blocks were dropped
// and the stuck partials never evicted, so nothing new started. Now the length heard
// more often takes over, and a partial that stopped progressing makes room.
func TestReceiverPoisonedLengths(t *testing.T) {
	now := time.Unix(1000, 0)
	s, _ := newTestSender(t, 24)
	r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(5, 6))}, now)
	a := wire.Announce{Final: true, Rate: 1e9, Chunks: 24, MaxChunk: 100 * 64, BlockSize: 64, Meta: []byte("m")}
	r.Handle(hostileAnnounce(s.NodeID(), a), now)
	for c := range uint32(20) { // 20 chunks, one forged block each, from the sender's own node ID
		r.Handle(hostileData(s.NodeID(), wire.Data{Seq: c, Chunk: c, ChunkLen: 64 * 37, Block: 1}), now)
	}
	if len(r.partials) != 20 {
		t.Fatalf("%d partials after the forged blocks, want 20 (all slots)", len(r.partials))
	}
	// A stalled partial of more blocks: 20 blocks of the forged length for chunk 20
	// would hold a slot until evictAge; the 1-block ones go after 4 gaps.
	end := runPair(s, r, now, 200000)
	st := r.Stats()
	t.Logf("ASSERT 20 chunks poisoned with a wrong length: complete %v (%d/%d) after %v; length switches %d, evicted %d, drops %s",
		r.Complete(), st.ChunksDone, st.ChunksTotal, end.Sub(now), st.LenSwitches, st.Evicted, st.Drops.String())
	if !r.Complete() {
		t.Fatal("poisoned lengths stalled the receiver")
	}
}

// TestReceiverEvictsStalled: a partial chunk that stopped progressing is evicted
// when room is needed, after evictAge (measured from the timers), not before.
func TestReceiverEvictsStalled(t *testing.T) {
	r, now := joinedReceiver(t, ReceiverConfig{maxPartial: 2})
	seq := uint32(0)
	send := func(c uint32, blocks int) {
		for b := range blocks {
			r.Handle(hostileData(testHeader.Node, wire.Data{Seq: seq, Chunk: c, Block: uint32(b)}), now)
			seq++
		}
	}
	send(0, 50)
	send(1, 50)
	age := r.evictAge(r.byChunk[0])
	now = now.Add(time.Duration(age) / 2)
	send(2, 1)
	early := r.byChunk[2] != nil
	now = now.Add(time.Duration(age))
	send(2, 1)
	t.Logf("ASSERT evictAge %v (srtt %v, S %v): a new chunk found no room after age/2 (%v), room after 1.5 age (%v); evicted %d",
		time.Duration(age), time.Duration(r.rtt.SRTT()), time.Duration(r.suppressWindow()), early, r.byChunk[2] != nil, r.stats.Evicted)
	if early || r.byChunk[2] == nil || r.stats.Evicted != 1 {
		t.Fatal("eviction")
	}
}

// TestReceiverRejectKeepsData: a chunk rebuilt with parity that Deliver rejects keeps
// its received data blocks (the parity is dropped and fresh parity asked for), instead
// of throwing every block away; a second rejection starts from nothing, later.
func TestReceiverRejectKeepsData(t *testing.T) {
	now := time.Unix(1000, 0)
	s, _ := newTestSender(t, 1)
	rejects := 0
	r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(7, 8)), Deliver: func(int, []byte) error {
		if rejects < 2 {
			rejects++
			return errTest
		}
		return nil
	}}, now)
	// Data block 5 is lost on the first pass, so the rebuild uses parity.
	for i := 0; i < 200000 && !r.Complete(); i++ {
		var out [][]byte
		next := s.Poll(now, func(p []byte) { out = append(out, append([]byte(nil), p...)) })
		rn := r.Poll(now, func(p []byte) { out = append(out, append([]byte(nil), p...)) })
		for _, p := range out {
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
		now = earliest(next, rn)
	}
	st := r.Stats()
	t.Logf("ASSERT rejected twice: kept %d data blocks after the first rejection (of 99 received), %d blocks received in all, complete %v",
		st.KeptBlocks, st.Blocks, r.Complete())
	if st.KeptBlocks != 99 || !r.Complete() || st.Corrupt != 2 {
		t.Fatal("rejected rebuild")
	}
}
