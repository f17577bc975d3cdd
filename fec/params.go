package fec

import "fmt"

const (
	// DefaultBlockSize fits one block plus a protocol header in a 1500-byte
	// MTU without IP fragmentation.
	DefaultBlockSize = 1400
	// MaxBlockSize keeps a block inside one UDP datagram.
	MaxBlockSize = 65000
	// MaxBlocks bounds K. With the default parity rule, K+M then always fits
	// the GF(2^16) code (the limit is about 65536 minus rounding).
	MaxBlocks = 32768
	// MinParity is the fewest parity indexes the default rule gives a chunk,
	// so even a one-block chunk can be repaired several times over.
	MinParity = 8
	// fieldOrder is the number of elements of GF(2^16).
	fieldOrder = 1 << 16
)

// Params fixes the code for one chunk: all parties derive the same code from
// (chunkLen, BlockSize, MaxParity), so these must travel in the session
// announcement. The zero value means DefaultBlockSize and the default parity
// rule.
type Params struct {
	// BlockSize is the number of bytes per block; it must be even (a GF(2^16)
	// symbol is two bytes). 0 means DefaultBlockSize.
	BlockSize int
	// MaxParity is the number of parity indexes per chunk. 0 means the
	// default rule max(MinParity, ceil(K/4)). It is lowered if K+M would not
	// fit the field.
	MaxParity int
}

// blockSize returns the effective block size.
func (p Params) blockSize() int {
	if p.BlockSize == 0 {
		return DefaultBlockSize
	}
	return p.BlockSize
}

// Validate reports whether the parameters can code a chunk of chunkLen bytes.
func (p Params) Validate(chunkLen int) error {
	bs := p.blockSize()
	if bs < 2 || bs > MaxBlockSize || bs%2 != 0 {
		return fmt.Errorf("%w: %d (must be even, 2..%d)", ErrBlockSize, p.BlockSize, MaxBlockSize)
	}
	if p.MaxParity < 0 {
		return fmt.Errorf("%w: negative MaxParity %d", ErrBlockSize, p.MaxParity)
	}
	if chunkLen <= 0 {
		return fmt.Errorf("%w: %d", ErrChunkLen, chunkLen)
	}
	if k := p.Blocks(chunkLen); k > MaxBlocks {
		return fmt.Errorf("%w: %d bytes need %d blocks of %d, more than %d",
			ErrChunkLen, chunkLen, k, bs, MaxBlocks)
	}
	return nil
}

// Blocks returns the number of data blocks K for a chunk of chunkLen bytes
// (0 for chunkLen <= 0 or an invalid block size).
func (p Params) Blocks(chunkLen int) (k int) {
	bs := p.blockSize()
	if chunkLen <= 0 || bs <= 0 {
		return 0
	}
	return (chunkLen + bs - 1) / bs
}

// Parity returns how many parity indexes M exist for k data blocks. Parity
// block j of a chunk depends on (K, M) only through K and ceilPow2(M); fixing
// M per chunk makes every party use the same code.
func (p Params) Parity(k int) (m int) {
	if k <= 0 {
		return 0
	}
	m = p.MaxParity
	if m <= 0 {
		m = max(MinParity, (k+3)/4)
	}
	m = min(m, fieldOrder-k)
	for m > 0 && !fitsField(k, m, fieldOrder) {
		// Fit depends on the power of two above m: halve it.
		m = ceilPow2(m) / 2
	}
	return m
}

// fitsField mirrors the leopard layout rule: data occupies whole groups of
// ceilPow2(m) positions after the ceilPow2(m) parity positions, all inside a
// field of order elements.
func fitsField(k, m, order int) bool {
	if k <= 0 || m <= 0 || k > order || m > order {
		return false
	}
	pm := ceilPow2(m)
	groups := (k + pm - 1) / pm
	return groups*pm <= order-pm
}

func ceilPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}
