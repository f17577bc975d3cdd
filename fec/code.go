package fec

import (
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// symbolGroup is the leopard GF(2^16) storage unit: 32 symbols stored as 32
// low bytes followed by 32 high bytes. Shards must be multiples of it.
const symbolGroup = 64

// code is the resolved geometry of one chunk's code.
//
// A block of bs bytes is split in two parts that are coded separately by the
// same (K, M) leopard code: the main part, the largest multiple of 64 bytes,
// is coded in place (zero-copy slices of the block), and the tail part
// (bs mod 64 bytes, even) is packed into a 64-byte shard as whole symbols:
// its first half becomes the low bytes and its second half the high bytes of
// symbols 0..tail/2-1. The unused symbols of every tail shard are zero in
// every data shard, hence zero in every parity shard (the code is linear and
// acts column by column), so parity blocks are exactly bs bytes like data
// blocks: nothing beyond the block size ever goes on the wire.
type code struct {
	k, m     int
	bs       int
	chunkLen int
	mainLen  int // bytes of each block coded in place
	tailLen  int // bytes of each block coded through a packed shard
}

func newCode(p Params, chunkLen int) (code, error) {
	if err := p.Validate(chunkLen); err != nil {
		return code{}, err
	}
	bs := p.blockSize()
	c := code{
		k:        p.Blocks(chunkLen),
		bs:       bs,
		chunkLen: chunkLen,
		mainLen:  bs &^ (symbolGroup - 1),
	}
	c.m = p.Parity(c.k)
	c.tailLen = bs - c.mainLen
	if c.m <= 0 {
		return code{}, fmt.Errorf("%w: no parity fits %d blocks", ErrChunkLen, c.k)
	}
	return c, nil
}

// lastLen is the number of meaningful bytes in the last data block.
func (c code) lastLen() int {
	return c.chunkLen - (c.k-1)*c.bs
}

// rs builds the leopard coder: GF(2^8) when K and M fit it, else GF(2^16).
// Both are FFT codes with the same properties for the protocol; the small
// field avoids building GF(2^16)'s 74 MiB of tables on first use (~0.3 s, far
// more under the race detector) for chunks of up to about 200 blocks.
func (c code) rs() (reedsolomon.Encoder, error) {
	field := reedsolomon.WithLeopardGF16(true)
	if c.small() {
		field = reedsolomon.WithLeopardGF(true)
	}
	enc, err := reedsolomon.New(c.k, c.m, field, reedsolomon.WithWorkAllocator(sharedWork))
	if err != nil {
		return nil, fmt.Errorf("fec: building code k=%d m=%d: %w", c.k, c.m, err)
	}
	return enc, nil
}

// small reports whether the code uses GF(2^8).
func (c code) small() bool { return fitsField(c.k, c.m, 1<<8) }

// stride is the leopard shard size: the block size rounded up to 64 bytes.
// Decoder buffers keep blocks at this stride with packed tails, so a single
// leopard call covers whole blocks.
func (c code) stride() int {
	if c.tailLen == 0 {
		return c.bs
	}
	return c.mainLen + symbolGroup
}

// store writes block b (bs bytes, or fewer for a cut last block, the rest
// being zero) into a zeroed stride-sized shard.
func (c code) store(shard, b []byte) {
	n := copy(shard[:c.mainLen], b)
	if c.tailLen > 0 && len(b) > n {
		var tail [symbolGroup]byte
		copy(tail[:c.tailLen], b[n:])
		packTail(shard[c.mainLen:], tail[:c.tailLen])
	}
}

// packTail stores the tail bytes of a block (len even, < 64) into a zeroed
// 64-byte shard as whole GF(2^16) symbols.
func packTail(shard, tail []byte) {
	h := len(tail) / 2
	copy(shard[:h], tail[:h])
	copy(shard[32:32+h], tail[h:])
}

// unpackTail is the inverse of packTail.
func unpackTail(tail, shard []byte) {
	h := len(tail) / 2
	copy(tail[:h], shard[:h])
	copy(tail[h:], shard[32:32+h])
}

// sharedWork shares leopard's scratch buffers across all coders: the
// library's default allocator is per coder, so short-lived coders would
// allocate megabytes of scratch on every call.
var sharedWork = &workPool{}

type workPool struct{ pool sync.Pool }

func (a *workPool) Get(n, size int) [][]byte {
	work, _ := a.pool.Get().([][]byte)
	if cap(work) >= n {
		work = work[:n]
	} else {
		grown := make([][]byte, n)
		copy(grown, work[:cap(work)])
		work = grown
	}
	for i := range work {
		if cap(work[i]) < size {
			work[i] = reedsolomon.AllocAligned(1, size)[0]
		} else {
			work[i] = work[i][:size]
		}
	}
	return work
}

func (a *workPool) Put(work [][]byte) { a.pool.Put(work) } //nolint:staticcheck // slice header boxing is fine here
