package image

import (
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"sync"
)

// IncrementalDisk is the new disk an increment and its base describe, as an
// io.ReaderAt: a read rebuilds the blocks it touches from the increment (a
// literal block) or the base (a reference), each checked against the new
// block map's hash before any of its bytes are returned, so a damaged
// increment or base gives an error wrapping ErrCorrupt, never wrong bytes.
// Bytes outside the new disk's used ranges read as zeros. It is what lets a
// sender serve an increment as the full new image (mcsend --base): give
// Source and Used to Create. Safe for concurrent use (reads are serialized).
type IncrementalDisk struct {
	mu     sync.Mutex
	nm, bm *BlockMap
	x      *baseIndex
	nd, bd *DiskReader
	size   int64

	last  int // block (map index) in buf, -1 = none
	buf   []byte
	nrs   []Range
	brs   []Range
	block []byte // the rebuilt block laid out on the target: B bytes
}

// NewIncrementalDisk opens the new disk of incr rebuilt from base, after
// checking that base is the image incr names (ErrWrongBase).
func NewIncrementalDisk(incr, base *Reader) (*IncrementalDisk, error) {
	if err := CheckBase(incr.Header(), base.Header()); err != nil {
		return nil, err
	}
	nm, bm := incr.BlockMap(), base.BlockMap()
	if nm == nil || bm == nil || nm.BlockSize() != bm.BlockSize() {
		return nil, corruptf("incremental image or base without a block map, or with another block size")
	}
	nd, err := NewDiskReader(incr)
	if err != nil {
		return nil, err
	}
	bd, err := NewDiskReader(base)
	if err != nil {
		nd.Close()
		return nil, err
	}
	return &IncrementalDisk{nm: nm, bm: bm, x: newBaseIndex(bm), nd: nd, bd: bd, size: incr.Header().TargetSize,
		last: -1, block: make([]byte, nm.BlockSize())}, nil
}

// Size is the new disk's size.
func (d *IncrementalDisk) Size() int64 { return d.size }

// Used is the new disk's used ranges (the new block map's extents; empty,
// not nil, for a disk with none, as CreateConfig.Used wants).
func (d *IncrementalDisk) Used() []Range {
	if len(d.nm.extents) == 0 {
		return []Range{}
	}
	return d.nm.extents
}

// Source is the disk as a Source (description "increment ID on base ID").
func (d *IncrementalDisk) Source(desc string) *Source {
	s := NewSource(d, d.size)
	s.SetDescription(desc)
	return s
}

// Close closes the disk readers of both images (not the images).
func (d *IncrementalDisk) Close() error {
	d.nd.Close()
	return d.bd.Close()
}

// ReadAt implements io.ReaderAt.
func (d *IncrementalDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("image: read at negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var tail error
	if int64(len(p)) > d.size-off {
		p, tail = p[:d.size-off], io.EOF
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	bs := int64(d.nm.BlockSize())
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		k := pos / bs
		want := min(int64(len(p)-n), (k+1)*bs-pos)
		dst := p[n : n+int(want)]
		i := sort.Search(len(d.nm.block), func(i int) bool { return d.nm.block[i] >= k })
		if i == len(d.nm.block) || d.nm.block[i] != k {
			clear(dst)
		} else {
			if err := d.rebuild(i); err != nil {
				return n, err
			}
			copy(dst, d.block[pos-k*bs:])
		}
		n += int(want)
	}
	return n, tail
}

// rebuild lays new block i out in d.block (zeros outside its used ranges).
func (d *IncrementalDisk) rebuild(i int) error {
	if d.last == i {
		return nil
	}
	d.last = -1
	nm := d.nm
	d.nrs = nm.Ranges(d.nrs[:0], i)
	var n int64
	for _, r := range d.nrs {
		n += r.Len
	}
	if cap(d.buf) < int(n) {
		d.buf = make([]byte, n)
	}
	buf := d.buf[:n]
	from, rs, what := d.nd, d.nrs, "increment"
	if j := d.x.find(nm.hashes[i], nm.block[i]); j >= 0 {
		d.brs = d.bm.Ranges(d.brs[:0], j)
		from, rs, what = d.bd, d.brs, "base"
	}
	var got int64
	for _, r := range rs {
		if got+r.Len > n {
			return corruptf("block %d: the %s's block holds more bytes than the new one", nm.block[i], what)
		}
		if _, err := from.ReadAt(buf[got:got+r.Len], r.Off); err != nil {
			return fmt.Errorf("image: reading block %d from the %s: %w", nm.block[i], what, err)
		}
		got += r.Len
	}
	if got != n || sha256.Sum256(buf) != nm.hashes[i] {
		return corruptf("block %d from the %s does not hash to the new block map's hash", nm.block[i], what)
	}
	clear(d.block)
	lo := nm.block[i] << nm.shift
	got = 0
	for _, r := range d.nrs {
		copy(d.block[r.Off-lo:], buf[got:got+r.Len])
		got += r.Len
	}
	d.last = i
	return nil
}
