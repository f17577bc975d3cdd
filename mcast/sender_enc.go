package mcast

import (
	"fmt"

	"github.com/discuscast/discus/fec"
)

// encCache keeps the encoders (and so the parity) of recently served chunks; bounded so
// sender memory does not grow with the image.
type encCache struct {
	max   int
	items []encItem
	clock uint64
}

type encItem struct {
	chunk uint32
	enc   *chunkEnc
	used  uint64
}

// chunkEnc is an encoder plus the chunk it codes.
type chunkEnc struct {
	*fec.Encoder
	n int
	b []byte // the source's slice (handed back on eviction: chunkRecycler)
}

// chunkRecycler is implemented by sources that reuse chunk buffers: the sender hands
// chunk i's slice back once nothing of it is used any more (its encoder left the
// cache; every block sent from it was copied into a packet), so a session does not
// allocate, zero and fault in a fresh chunk-sized buffer for every chunk it serves.
type chunkRecycler interface{ RecycleChunk(i int, b []byte) }

func (e *chunkEnc) Len() int { return e.n }

func (c *encCache) get(chunk uint32) *chunkEnc {
	c.clock++
	for i := range c.items {
		if c.items[i].chunk == chunk {
			c.items[i].used = c.clock
			return c.items[i].enc
		}
	}
	return nil
}

// put caches e and returns the item it evicted to make room, if any.
func (c *encCache) put(chunk uint32, e *chunkEnc) (evicted encItem, ok bool) {
	c.clock++
	if len(c.items) < c.max {
		c.items = append(c.items, encItem{chunk, e, c.clock})
		return encItem{}, false
	}
	old := 0
	for i := range c.items {
		if c.items[i].used < c.items[old].used {
			old = i
		}
	}
	evicted = c.items[old]
	c.items[old] = encItem{chunk, e, c.clock}
	return evicted, true
}

// encoder returns the encoder of chunk c, loading the chunk if needed; nil if the
// source fails (the error is counted and logged, the job dropped: a receiver asks again).
func (s *Sender) encoder(c uint32) *chunkEnc {
	if e := s.enc.get(c); e != nil {
		return e
	}
	e, err := s.load(c)
	if err != nil {
		s.stats.ChunkErrors++
		s.log.Error("mcast: cannot serve chunk", "chunk", c, "err", err)
		return nil
	}
	if old, ok := s.enc.put(c, e); ok {
		if rc, ok := s.src.(chunkRecycler); ok {
			rc.RecycleChunk(int(old.chunk), old.enc.b)
		}
	}
	s.kOf[c] = uint32(e.K())
	return e
}

func (s *Sender) load(c uint32) (*chunkEnc, error) {
	b, err := s.src.Chunk(int(c))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > s.cfg.MaxChunk {
		return nil, fmt.Errorf("chunk %d is %d bytes, want 1..%d", c, len(b), s.cfg.MaxChunk)
	}
	e, err := fec.NewEncoder(s.params, b)
	if err != nil {
		return nil, err
	}
	return &chunkEnc{e, len(b), b}, nil
}
