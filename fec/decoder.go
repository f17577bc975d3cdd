package fec

import (
	"fmt"
	"math/bits"
)

// Decoder collects the blocks of one chunk whose length is known and rebuilds
// it from any K distinct blocks.
//
// Memory grows with what arrives: the data buffer (K blocks, contiguous, each
// rounded up to 64 bytes) is allocated on the first block, and parity blocks are copied only as they
// arrive and only while they can still help. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	c      code
	data   []byte   // K*bs bytes, nil until the first block
	parity [][]byte // M entries, nil until the first parity block
	seen   []uint64 // bitset over K+M indexes
	nData  int
	nPar   int
	solved bool // data holds every data block
}

// NewDecoder prepares to collect a chunk of chunkLen bytes.
func NewDecoder(p Params, chunkLen int) (*Decoder, error) {
	c, err := newCode(p, chunkLen)
	if err != nil {
		return nil, err
	}
	return &Decoder{c: c}, nil
}

// K returns the number of data blocks.
func (d *Decoder) K() int { return d.c.k }

// M returns the number of parity indexes.
func (d *Decoder) M() int { return d.c.m }

// BlockSize returns the length of every block.
func (d *Decoder) BlockSize() int { return d.c.bs }

// Add copies block i into the decoder and reports whether K distinct blocks
// are now held. Every block must be BlockSize bytes, except that the last
// data block may also be cut to the chunk's end (its padding is ignored).
// Duplicates and blocks arriving after completion are ignored.
func (d *Decoder) Add(i int, b []byte) (complete bool, err error) {
	c := d.c
	if i < 0 || i >= c.k+c.m {
		return d.complete(), fmt.Errorf("%w: %d not in [0,%d)", ErrIndex, i, c.k+c.m)
	}
	n := c.bs
	if i == c.k-1 {
		n = c.lastLen()
	}
	if len(b) != c.bs && len(b) != n {
		return d.complete(), fmt.Errorf("%w: block %d has %d bytes, want %d", ErrBlockLen, i, len(b), c.bs)
	}
	if d.complete() || d.has(i) {
		return d.complete(), nil
	}
	if d.seen == nil {
		d.seen = make([]uint64, (c.k+c.m+63)/64)
	}
	d.seen[i/64] |= 1 << (i % 64)
	if i < c.k {
		if d.data == nil {
			d.data = getBuffer(c.k * c.stride())
		}
		copy(d.data[i*c.bs:], b[:n])
		if n < c.bs {
			// The buffer may be recycled: the padding must be zero to decode.
			clear(d.data[i*c.bs+n : (i+1)*c.bs])
		}
		d.nData++
		d.solved = d.nData == c.k
	} else {
		if d.parity == nil {
			d.parity = make([][]byte, c.m)
		}
		p := make([]byte, c.stride())
		c.store(p, b)
		d.parity[i-c.k] = p
		d.nPar++
	}
	return d.complete(), nil
}

// Has reports whether block i is held (false for out-of-range indexes).
// After a rebuild every data block is held and parity blocks are dropped.
func (d *Decoder) Has(i int) bool {
	return i >= 0 && i < d.c.k+d.c.m && d.has(i)
}

func (d *Decoder) has(i int) bool {
	return d.seen != nil && d.seen[i/64]&(1<<(i%64)) != 0
}

func (d *Decoder) complete() bool { return d.solved || d.nData+d.nPar >= d.c.k }

// Have returns the number of distinct blocks held.
func (d *Decoder) Have() int {
	if d.solved {
		return d.c.k
	}
	return d.nData + d.nPar
}

// Missing returns how many more distinct blocks are needed: max(0, K-Have()).
func (d *Decoder) Missing() int { return max(0, d.c.k-d.Have()) }

// Complete reports whether the chunk can be rebuilt now.
func (d *Decoder) Complete() bool { return d.complete() }

// Solved reports whether every data block is in place (received, or rebuilt
// by an earlier Bytes): Bytes then returns at once, without rebuilding.
func (d *Decoder) Solved() bool { return d.solved }

// Bytes returns the chunk (chunkLen bytes) once K distinct blocks are held,
// rebuilding lost data blocks from parity the first time. The result aliases
// the decoder's buffer and stays valid until Reset.
func (d *Decoder) Bytes() ([]byte, error) {
	if !d.complete() {
		return nil, fmt.Errorf("%w: have %d of %d", ErrIncomplete, d.Have(), d.c.k)
	}
	if !d.solved {
		if err := d.reconstruct(); err != nil {
			return nil, err
		}
	}
	return d.data[:d.c.chunkLen:d.c.chunkLen], nil
}

// Reset drops every block (e.g. the rebuilt chunk failed its checksum),
// keeping the data buffer for reuse.
func (d *Decoder) Reset() {
	clear(d.data)
	clear(d.seen)
	d.parity = nil
	d.nData, d.nPar = 0, 0
	d.solved = false
}

// Release is Reset that also hands the decoder's memory to a shared pool for
// the next Decoder. The slice returned by Bytes must not be used afterwards.
// Calling it is optional (the garbage collector reclaims unreleased
// decoders), but it spares a receiver allocating and zeroing a chunk-sized
// buffer per chunk.
func (d *Decoder) Release() {
	putBuffer(d.data)
	d.data = nil
	d.seen = nil
	d.parity = nil
	d.nData, d.nPar = 0, 0
	d.solved = false
}

// reconstruct rebuilds the missing data blocks in place, by the cheapest
// path for what was lost (see path): blocks stay in the chunk's layout (block
// i at i*bs), so a loss-free chunk costs no extra copy.
func (d *Decoder) reconstruct() error { return d.reconstructWith(d.path()) }

func (d *Decoder) reconstructWith(p rebuildPath) error {
	if d.data == nil {
		d.data = getBuffer(d.c.k * d.c.stride())
	}
	var err error
	if p == pathLeopard {
		err = d.leopard()
	} else {
		err = d.rebuild(p == pathDirect)
		clear(d.data[d.c.chunkLen:])
	}
	if err != nil {
		return err
	}
	c := d.c
	for i := 0; i < c.k; i++ {
		d.seen[i/64] |= 1 << (i % 64)
	}
	d.nData = c.k
	d.solved = true
	d.parity = nil
	d.nPar = 0
	return nil
}

// leopard rebuilds the missing data blocks with leopard's decoder. The
// blocks are spread to the leopard stride layout, rebuilt with a single
// leopard call, and compacted back. One call matters: every GF(2^16) decode
// pays a fixed cost for evaluating the error locator over the whole field,
// so coding the 64-byte-multiple part and the tail separately would pay it
// twice.
func (d *Decoder) leopard() error {
	c := d.c
	rs, err := c.rs()
	if err != nil {
		return err
	}
	d.spread()
	st := c.stride()
	shards := make([][]byte, c.k+c.m)
	for i := 0; i < c.k; i++ {
		off := i * st
		if d.has(i) {
			shards[i] = d.data[off : off+st]
		} else {
			// Empty but with room: leopard writes the rebuilt block here.
			shards[i] = d.data[off : off : off+st]
		}
	}
	for j, p := range d.parity {
		if p != nil {
			shards[c.k+j] = p
		}
	}
	err = rs.ReconstructData(shards)
	d.compact()
	if err != nil {
		return fmt.Errorf("fec: rebuilding: %w", err)
	}
	return nil
}

// spread moves block i from i*bs up to i*stride with its tail packed, in
// place: going down from the last block, a block only moves over space no
// lower block occupies. Slots of missing blocks are zeroed (the buffer may be
// recycled).
func (d *Decoder) spread() {
	c := d.c
	st := c.stride()
	if st == c.bs {
		for i := 0; i < c.k; i++ {
			if !d.has(i) {
				clear(d.data[i*st : (i+1)*st])
			}
		}
		return
	}
	var tail [symbolGroup]byte
	for i := c.k - 1; i >= 0; i-- {
		dst := d.data[i*st : (i+1)*st]
		if !d.has(i) {
			clear(dst)
			continue
		}
		src := d.data[i*c.bs : (i+1)*c.bs]
		copy(tail[:c.tailLen], src[c.mainLen:])
		copy(dst[:c.mainLen], src[:c.mainLen])
		clear(dst[c.mainLen:])
		packTail(dst[c.mainLen:], tail[:c.tailLen])
	}
}

// compact is the inverse of spread: going up from block 0, block i moves
// from i*stride down to i*bs, never over a block not yet moved.
func (d *Decoder) compact() {
	c := d.c
	st := c.stride()
	if st != c.bs {
		var tail [symbolGroup]byte
		for i := 0; i < c.k; i++ {
			src := d.data[i*st : (i+1)*st]
			copy(tail[:], src[c.mainLen:])
			dst := d.data[i*c.bs : (i+1)*c.bs]
			copy(dst[:c.mainLen], src[:c.mainLen])
			unpackTail(dst[c.mainLen:], tail[:])
		}
	}
	// Padding past the chunk is zero by definition, whatever the math said.
	clear(d.data[c.chunkLen:])
}

// count is used by tests to cross-check the bitset.
func (d *Decoder) count() int {
	n := 0
	for _, w := range d.seen {
		n += bits.OnesCount64(w)
	}
	return n
}
