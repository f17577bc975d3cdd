package mcast

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

type benchSource struct{ chunks [][]byte }

func (b benchSource) Meta() []byte                { return []byte("bench") }
func (b benchSource) ChunkCount() (int, bool)     { return len(b.chunks), true }
func (b benchSource) Chunk(i int) ([]byte, error) { return b.chunks[i], nil }

func benchChunks(n, size int) benchSource {
	rng := rand.New(rand.NewPCG(1, 2))
	var s benchSource
	for range n {
		c := make([]byte, size)
		for i := range c {
			c[i] = byte(rng.Uint32())
		}
		s.chunks = append(s.chunks, c)
	}
	return s
}

// BenchmarkSenderData: building and pacing data packets of 1 MiB chunks (1400-byte
// blocks), the sender's per-packet cost. One op is one packet; bytes are block payload.
func BenchmarkSenderData(b *testing.B) {
	src := benchChunks(4, 1<<20)
	now := time.Unix(0, 0)
	pkt := wire.DataLen(DefaultBlockSize)
	// One packet per microsecond of virtual time.
	s, err := NewSender(SenderConfig{SessionID: testHeader.Session, FixedRate: true, MaxRate: int64(pkt) * 1e6}, src, now)
	if err != nil {
		b.Fatal(err)
	}
	req := requestPkt(1, wire.Need{Chunk: 0}, wire.Need{Chunk: 1}, wire.Need{Chunk: 2}, wire.Need{Chunk: 3})
	b.SetBytes(DefaultBlockSize)
	b.ReportAllocs()
	sent := 0
	emit := func([]byte) { sent++ }
	for b.Loop() {
		if !s.hasWork() {
			s.Handle(req, now)
		}
		now = now.Add(time.Microsecond)
		s.Poll(now, emit)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "pkts/op")
}

// BenchmarkSenderRepair: fresh parity for repairs of a 1 MiB chunk (the chunk's parity
// is computed once, then cached). One op is one packet.
func BenchmarkSenderRepair(b *testing.B) {
	src := benchChunks(1, 1<<20)
	now := time.Unix(0, 0)
	pkt := wire.DataLen(DefaultBlockSize)
	s, err := NewSender(SenderConfig{SessionID: testHeader.Session, FixedRate: true, MaxRate: int64(pkt) * 1e6}, src, now)
	if err != nil {
		b.Fatal(err)
	}
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	for s.hasWork() {
		now = s.Poll(now.Add(time.Microsecond), func([]byte) {})
	}
	b.SetBytes(DefaultBlockSize)
	sent := 0
	for b.Loop() {
		if !s.hasWork() {
			s.parityNext[0] = 0 // keep the parity fresh for the benchmark
			s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 37}), now)
		}
		now = now.Add(time.Microsecond)
		s.Poll(now, func([]byte) { sent++ })
	}
	b.ReportMetric(float64(sent)/float64(b.N), "pkts/op")
}

// BenchmarkReceiverData: a receiver taking the data packets of 1 MiB chunks with 5 %
// loss repaired by parity, decoding included. Bytes are block payload bytes.
func BenchmarkReceiverData(b *testing.B) {
	src := benchChunks(1, 1<<20)
	now := time.Unix(0, 0)
	s, _ := NewSender(SenderConfig{SessionID: testHeader.Session, FixedRate: true, MaxRate: 1 << 40}, src, now)
	var pkts [][]byte
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	collect := func(p []byte) {
		if p[5] == byte(wire.TypeData) {
			pkts = append(pkts, append([]byte(nil), p...))
		}
	}
	for s.hasWork() {
		now = s.Poll(now.Add(time.Microsecond), collect)
	}
	s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 60}), now)
	for s.hasWork() {
		now = s.Poll(now.Add(time.Microsecond), collect)
	}
	h := testHeader
	h.Node = s.hdr.Node
	ann := wire.AppendAnnounce(nil, h, &wire.Announce{Rate: 1e9, Chunks: 1, MaxChunk: 1 << 20, BlockSize: DefaultBlockSize, LossRef: wire.LossUnknown})
	rng := rand.New(rand.NewPCG(3, 4))
	b.SetBytes(DefaultBlockSize)
	b.ReportAllocs()
	i := len(pkts)
	var r *Receiver
	for b.Loop() {
		if i == len(pkts) || r.Complete() {
			r = NewReceiver(ReceiverConfig{Deliver: func(int, []byte) error { return nil }}, now)
			r.Handle(ann, now)
			i = 0
		}
		if rng.IntN(20) != 0 {
			r.Handle(pkts[i], now)
		}
		i++
	}
}

// BenchmarkReceiverLoopChunk is the receive loop's CPU per 1 MiB chunk (5 % loss
// repaired by parity): "deliver" is the old callback as package session used it, the
// rebuild, the manifest's SHA-256 and the installer's copy inside Handle; "ready" is
// Handle plus Ready and Settle, the rebuild and the rest left to a worker (not timed:
// it is off the loop).
func BenchmarkReceiverLoopChunk(b *testing.B) {
	src := benchChunks(1, 1<<20)
	now := time.Unix(0, 0)
	s, _ := NewSender(SenderConfig{SessionID: testHeader.Session, FixedRate: true, MaxRate: 1 << 40}, src, now)
	var pkts [][]byte
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	collect := func(p []byte) {
		if p[5] == byte(wire.TypeData) {
			pkts = append(pkts, append([]byte(nil), p...))
		}
	}
	for s.hasWork() {
		now = s.Poll(now.Add(time.Microsecond), collect)
	}
	s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 60}), now)
	for s.hasWork() {
		now = s.Poll(now.Add(time.Microsecond), collect)
	}
	h := testHeader
	h.Node = s.hdr.Node
	ann := wire.AppendAnnounce(nil, h, &wire.Announce{Rate: 1e9, Chunks: 1, MaxChunk: 1 << 20, BlockSize: DefaultBlockSize, LossRef: wire.LossUnknown})
	window := make([]byte, 0, 1<<20)
	run := func(b *testing.B, cfg ReceiverConfig, after func(*Receiver)) {
		b.SetBytes(1 << 20)
		b.ReportAllocs()
		for b.Loop() {
			rng := rand.New(rand.NewPCG(3, 4)) // the same losses every time
			r := NewReceiver(cfg, now)
			r.Handle(ann, now)
			for _, p := range pkts {
				if rng.IntN(20) != 0 && r.Stats().ChunksDone == 0 && !r.HasReady() {
					r.Handle(p, now)
				}
			}
			after(r)
			if r.Stats().ChunksDone != 1 {
				b.Fatal("chunk not complete")
			}
		}
	}
	b.Run("deliver", func(b *testing.B) {
		run(b, ReceiverConfig{Deliver: func(_ int, c []byte) error {
			_ = sha256.Sum256(c)
			window = append(window[:0], c...)
			return nil
		}}, func(*Receiver) {})
	})
	b.Run("ready", func(b *testing.B) {
		run(b, ReceiverConfig{}, func(r *Receiver) {
			for _, d := range r.Ready() {
				b.StopTimer()
				if _, err := d.Dec.Bytes(); err != nil { // a worker's part
					b.Fatal(err)
				}
				d.Dec.Release()
				b.StartTimer()
				r.Settle(d.Index, nil, now)
			}
		})
	})
}
