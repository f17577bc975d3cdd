package fec

import (
	"fmt"
	"math/bits"
)

// Decoder collects the blocks of one chunk whose length is known and rebuilds
// it from any K distinct blocks.
//
// Memory grows with what arrives: the data buffer (K blocks, contiguous) is
// allocated on the first block, and parity blocks are copied only as they
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
			d.data = make([]byte, c.k*c.bs)
		}
		copy(d.data[i*c.bs:i*c.bs+n], b[:n])
		d.nData++
		d.solved = d.nData == c.k
	} else {
		if d.parity == nil {
			d.parity = make([][]byte, c.m)
		}
		d.parity[i-c.k] = append([]byte(nil), b...)
		d.nPar++
	}
	return d.complete(), nil
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

// reconstruct rebuilds the missing data blocks in place.
func (d *Decoder) reconstruct() error {
	c := d.c
	rs, err := c.rs()
	if err != nil {
		return err
	}
	if d.data == nil {
		d.data = make([]byte, c.k*c.bs)
	}
	shards := make([][]byte, c.k+c.m)
	if c.mainLen > 0 {
		for i := 0; i < c.k; i++ {
			off := i * c.bs
			if d.has(i) {
				shards[i] = d.data[off : off+c.mainLen]
			} else {
				// Empty but with room: leopard writes the rebuilt block here.
				shards[i] = d.data[off : off : off+c.mainLen]
			}
		}
		for j, p := range d.parity {
			if p != nil {
				shards[c.k+j] = p[:c.mainLen]
			}
		}
		if err := rs.ReconstructData(shards); err != nil {
			return fmt.Errorf("fec: rebuilding: %w", err)
		}
	}
	if c.tailLen > 0 {
		tails := make([]byte, (c.k+d.nPar)*symbolGroup)
		clear(shards)
		next := 0
		take := func() []byte {
			s := tails[next*symbolGroup : (next+1)*symbolGroup]
			next++
			return s
		}
		for i := 0; i < c.k; i++ {
			s := take()
			if d.has(i) {
				packTail(s, d.data[i*c.bs+c.mainLen:(i+1)*c.bs])
				shards[i] = s
			} else {
				shards[i] = s[:0]
			}
		}
		for j, p := range d.parity {
			if p != nil {
				s := take()
				packTail(s, p[c.mainLen:])
				shards[c.k+j] = s
			}
		}
		if err := rs.ReconstructData(shards); err != nil {
			return fmt.Errorf("fec: rebuilding tails: %w", err)
		}
		for i := 0; i < c.k; i++ {
			if !d.has(i) {
				unpackTail(d.data[i*c.bs+c.mainLen:(i+1)*c.bs], shards[i])
			}
		}
	}
	// Padding past the chunk is zero by definition, whatever the math said.
	clear(d.data[c.chunkLen:])
	for i := 0; i < c.k; i++ {
		d.seen[i/64] |= 1 << (i % 64)
	}
	d.nData = c.k
	d.solved = true
	d.parity = nil
	d.nPar = 0
	return nil
}

// count is used by tests to cross-check the bitset.
func (d *Decoder) count() int {
	n := 0
	for _, w := range d.seen {
		n += bits.OnesCount64(w)
	}
	return n
}
