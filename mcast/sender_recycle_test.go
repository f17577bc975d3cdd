package mcast_test

import (
	"sync"
	"testing"

	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/simnet"
)

// recyclingSource serves copies of a testSource's chunks in buffers the sender hands
// back (RecycleChunk), which it scribbles over first: a sender that still read a chunk
// after handing it back would send garbage the receivers' checks catch.
type recyclingSource struct {
	*testSource
	mu       sync.Mutex
	free     [][]byte
	out      map[*byte]bool // buffers handed out and not back yet
	recycled int
	reused   int
	bad      int // handed back twice, or never handed out
}

func (s *recyclingSource) Chunk(i int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.testSource.chunks[i]
	var b []byte
	if k := len(s.free); k > 0 && cap(s.free[k-1]) >= len(c) {
		b, s.free = s.free[k-1][:len(c)], s.free[:k-1]
		s.reused++
	} else {
		b = make([]byte, len(c), len(c)+1) // +1: never the source's own array
	}
	copy(b, c)
	s.out[&b[:1][0]] = true
	return b, nil
}

func (s *recyclingSource) RecycleChunk(i int, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(b) == 0 || !s.out[&b[:1][0]] {
		s.bad++
		return
	}
	delete(s.out, &b[:1][0])
	b = b[:cap(b)]
	for j := range b {
		b[j] = 0xEE
	}
	s.free = append(s.free, b)
	s.recycled++
}

// TestSenderRecyclesChunks: under loss (repairs reload chunks that left the encoder
// cache), the sender hands every evicted chunk back exactly once and never touches it
// afterwards: every receiver gets every chunk intact although each handed-back buffer
// is scribbled over and reused.
func TestSenderRecyclesChunks(t *testing.T) {
	c := simCase{seed: 7, receivers: 3, chunks: 40, rate: 20_000_000, link: simnet.Link{Loss: 0.05}}
	var rs *recyclingSource
	res := runSimSource(t, c, func() mcast.ChunkSource {
		if rs == nil {
			rs = &recyclingSource{testSource: newTestSource(c.seed, c.chunks, 750*128), out: map[*byte]bool{}}
		}
		return rs
	})
	logResult(t, t.Name(), res)
	if rs.bad != 0 || rs.recycled < c.chunks-10 || rs.reused == 0 {
		t.Fatalf("recycled %d (bad %d), reused %d: want every evicted chunk handed back once, then reused",
			rs.recycled, rs.bad, rs.reused)
	}
	t.Logf("ASSERT %d chunk buffers handed back and scribbled over, %d reused; every receiver intact", rs.recycled, rs.reused)
}
