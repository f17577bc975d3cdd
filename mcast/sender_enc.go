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

// chunkEnc is an encoder plus the chunk length it codes.
type chunkEnc struct {
	*fec.Encoder
	n int
}

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

func (c *encCache) put(chunk uint32, e *chunkEnc) {
	c.clock++
	if len(c.items) < c.max {
		c.items = append(c.items, encItem{chunk, e, c.clock})
		return
	}
	old := 0
	for i := range c.items {
		if c.items[i].used < c.items[old].used {
			old = i
		}
	}
	c.items[old] = encItem{chunk, e, c.clock}
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
	s.enc.put(c, e)
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
	return &chunkEnc{e, len(b)}, nil
}
