package fec

import (
	"fmt"
	"sync"
)

// Encoder serves the blocks of one chunk: indexes below K are the data blocks
// (slices of the chunk, the last one zero-padded), indexes K..K+M-1 are parity
// blocks 0..M-1. All parity is computed on the first parity request and
// cached; data-only use costs nothing.
//
// An Encoder is safe for concurrent use. Returned blocks alias the chunk or
// the cache: callers must not modify them, nor the chunk while the Encoder is
// in use.
type Encoder struct {
	c     code
	chunk []byte
	last  []byte // the last data block padded to the block size

	mu     sync.Mutex
	parity []byte // M blocks of bs bytes once computed
	err    error
}

// NewEncoder prepares the blocks of chunk. It keeps a reference to chunk.
func NewEncoder(p Params, chunk []byte) (*Encoder, error) {
	c, err := newCode(p, len(chunk))
	if err != nil {
		return nil, err
	}
	e := &Encoder{c: c, chunk: chunk}
	start := (c.k - 1) * c.bs
	if c.lastLen() == c.bs {
		e.last = chunk[start:]
	} else {
		e.last = make([]byte, c.bs)
		copy(e.last, chunk[start:])
	}
	return e, nil
}

// K returns the number of data blocks.
func (e *Encoder) K() int { return e.c.k }

// M returns the number of parity indexes.
func (e *Encoder) M() int { return e.c.m }

// BlockSize returns the length of every block.
func (e *Encoder) BlockSize() int { return e.c.bs }

// Block returns block i, i in [0, K+M). Every block is BlockSize bytes.
func (e *Encoder) Block(i int) ([]byte, error) {
	switch {
	case i < 0 || i >= e.c.k+e.c.m:
		return nil, fmt.Errorf("%w: %d not in [0,%d)", ErrIndex, i, e.c.k+e.c.m)
	case i < e.c.k:
		return e.data(i), nil
	}
	parity, err := e.parityBlocks()
	if err != nil {
		return nil, err
	}
	j := i - e.c.k
	return parity[j*e.c.bs : (j+1)*e.c.bs : (j+1)*e.c.bs], nil
}

func (e *Encoder) data(i int) []byte {
	if i == e.c.k-1 {
		return e.last[:e.c.bs:e.c.bs]
	}
	return e.chunk[i*e.c.bs : (i+1)*e.c.bs : (i+1)*e.c.bs]
}

func (e *Encoder) parityBlocks() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.parity == nil && e.err == nil {
		e.parity, e.err = e.encode()
	}
	return e.parity, e.err
}

// encode computes all M parity blocks: leopard produces them in one pass
// whose cost is dominated by transforming the data, not by M.
func (e *Encoder) encode() ([]byte, error) {
	c := e.c
	if !c.small() && !leopard16OK {
		// The library's GF(2^16) coder would panic here (see leopard16OK).
		parity := make([]byte, c.m*c.bs)
		c.ownParity(e.data, func(j int) []byte { return parity[j*c.bs : (j+1)*c.bs] }, false)
		return parity, nil
	}
	rs, err := c.rs()
	if err != nil {
		return nil, err
	}
	parity := make([]byte, c.m*c.bs)
	shards := make([][]byte, c.k+c.m)
	if c.mainLen > 0 {
		for i := 0; i < c.k; i++ {
			shards[i] = e.data(i)[:c.mainLen]
		}
		for j := 0; j < c.m; j++ {
			shards[c.k+j] = parity[j*c.bs : j*c.bs+c.mainLen]
		}
		if err := rs.Encode(shards); err != nil {
			return nil, fmt.Errorf("fec: encoding: %w", err)
		}
	}
	if c.tailLen > 0 {
		tails := make([]byte, (c.k+c.m)*symbolGroup)
		for i := range shards {
			shards[i] = tails[i*symbolGroup : (i+1)*symbolGroup]
			if i < c.k {
				packTail(shards[i], e.data(i)[c.mainLen:])
			}
		}
		if err := rs.Encode(shards); err != nil {
			return nil, fmt.Errorf("fec: encoding tails: %w", err)
		}
		for j := 0; j < c.m; j++ {
			unpackTail(parity[j*c.bs+c.mainLen:(j+1)*c.bs], shards[c.k+j])
		}
	}
	return parity, nil
}
