package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Incremental images (docs/FORMAT.md, "Incremental images"). An increment
// of NEW against BASE is an image file whose header names BASE (DeltaBase,
// BaseRoot), whose block map is NEW's whole block map, and whose chunks
// hold the used bytes of exactly the blocks whose hash BASE's block map
// lacks. Every other block is a reference: BASE has a block with the same
// hash (at the same place or anywhere), and its used bytes, read from BASE
// and checked against that hash, are NEW's block. The references are not
// stored: they follow from the two maps, which the two manifest roots pin.

// ErrWrongBase: an incremental image was given a base other than the one it
// names, or a full image was given a base.
var ErrWrongBase = errors.New("image: wrong base image")

// deltaPlan is what CreateChunks needs to make an increment.
type deltaPlan struct {
	baseID   ID
	baseRoot [32]byte
	shift    uint
	extents  []Range
	hashes   [][32]byte
	lit      []int        // literal blocks (map indexes)
	reloc    []Relocation // relocated full blocks
}

// blockMap is NEW's map with the increment's chunk spans and its increment
// section (blockmap_incr.go).
func (d *deltaPlan) blockMap(spans []int64) (*BlockMap, error) {
	raw := encodeBlockMapIncr(d.shift, d.extents, spans, d.hashes, d.lit, d.reloc)
	if len(raw) > MaxBlockMapLen {
		return nil, fmt.Errorf("image: the new disk's block map exceeds %d bytes (use a larger block size)", MaxBlockMapLen)
	}
	m, err := ParseBlockMap(raw)
	if err != nil {
		return nil, fmt.Errorf("image: internal error: incremental block map: %w", err)
	}
	return m, nil
}

// CheckBase checks that base is the image the increment h names.
func CheckBase(h, base *Header) error {
	if h.DeltaBase.IsZero() {
		return fmt.Errorf("%w: %s is a full image, not an increment", ErrWrongBase, h.ID)
	}
	if base.ID != h.DeltaBase || base.ManifestRoot != h.BaseRoot {
		return fmt.Errorf("%w: the increment's base is image %s (manifest root %x…), not %s (%x…)",
			ErrWrongBase, h.DeltaBase, h.BaseRoot[:6], base.ID, base.ManifestRoot[:6])
	}
	return nil
}

// baseIndex finds a base block by hash, preferring the same block number.
type baseIndex struct {
	m      *BlockMap
	byHash map[[32]byte]int32
}

func newBaseIndex(m *BlockMap) *baseIndex {
	x := &baseIndex{m: m, byHash: make(map[[32]byte]int32, m.Len())}
	for i := m.Len() - 1; i >= 0; i-- { // the first block with a hash wins
		x.byHash[m.hashes[i]] = int32(i)
	}
	return x
}

// find returns the base block holding hash for new block number k, or -1.
func (x *baseIndex) find(hash [32]byte, k int64) int {
	j, ok := x.byHash[hash]
	if !ok {
		return -1
	}
	if s := sort.Search(len(x.m.block), func(i int) bool { return x.m.block[i] >= k }); s < len(x.m.block) && x.m.block[s] == k && x.m.hashes[s] == hash {
		return s // same place: the common case, and a sequential read of the base
	}
	return int(j)
}

// newBlockMapOf reads src's used bytes as a creation would (cfg.Used, all-zero
// blocks dropped) and returns their block map, without compressing.
func newBlockMapOf(ctx context.Context, src *Source, cfg CreateConfig, blockSize int) (*BlockMap, error) {
	p, err := cfg.params()
	if err != nil {
		return nil, err
	}
	regions, err := src.regions(cfg.Used)
	if err != nil {
		return nil, err
	}
	mb, err := newMapBuilder(blockSize, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ct := newCutter(src, regions, p, ID{1})
	ct.blocks = mb
	jobs := make(chan *job, p.workers)
	slots := make(chan struct{}, p.workers+2)
	errc := make(chan error, 1)
	go func() {
		defer close(jobs)
		errc <- ct.run(ctx, jobs, slots)
	}()
	for j := range jobs {
		ct.putBuf(j.buf)
		<-slots
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	mb.span(ct.size)
	m := mb.done()
	if m == nil {
		return nil, fmt.Errorf("image: the new disk's block map exceeds %d bytes (use a larger block size)", MaxBlockMapLen)
	}
	return m, nil
}

// IncrementalStats counts what an increment holds, in target bytes.
type IncrementalStats struct {
	Blocks        int   // blocks of NEW with used bytes
	LiteralBlocks int   // of which held in the increment's chunks
	SamePlace     int   // referenced at the same block of BASE
	Relocated     int   // referenced elsewhere in BASE
	UsedBytes     int64 // NEW's used bytes
	LiteralBytes  int64 // used bytes of the literal blocks
}

// planIncrement sorts NEW's blocks into literal ones and references: lit are
// the literal blocks' used ranges, litIdx their map indexes, rel the
// references to a full base block at another number for full new blocks.
func planIncrement(nm, bm *BlockMap) (lit []Range, litIdx []int, rel []Relocation, st IncrementalStats) {
	x := newBaseIndex(bm)
	lit = []Range{} // not nil: nil Used means "everything"
	litIdx = []int{}
	var rs []Range
	for i := range nm.Len() {
		rs = nm.Ranges(rs[:0], i)
		var n int64
		for _, r := range rs {
			n += r.Len
		}
		st.Blocks++
		st.UsedBytes += n
		switch j := x.find(nm.hashes[i], nm.block[i]); {
		case j < 0:
			litIdx = append(litIdx, i)
			st.LiteralBlocks++
			st.LiteralBytes += n
			for _, r := range rs {
				if k := len(lit); k > 0 && lit[k-1].End() == r.Off {
					lit[k-1].Len += r.Len
				} else {
					lit = append(lit, r)
				}
			}
		case bm.block[j] == nm.block[i]:
			st.SamePlace++
		default:
			st.Relocated++
			if nm.full(i) && bm.full(j) {
				rel = append(rel, Relocation{Block: i, From: bm.block[j]})
			}
		}
	}
	return lit, litIdx, rel, st
}

// CreateIncremental writes to dst an incremental image of src against base:
// its chunks hold only the blocks (cfg.BlockSize, default 16 KiB; it must be
// base's block size) whose content base lacks, and its block map rebuilds
// the rest from base (ApplyIncremental). src is read twice (hashing, then
// the literal blocks), so it cannot be a stream. cfg.Encrypt is refused.
func CreateIncremental(ctx context.Context, src *Source, base *Reader, dst io.Writer, cfg CreateConfig) (*Header, CreateStats, IncrementalStats, error) {
	var ist IncrementalStats
	bh := base.Header()
	bm := base.BlockMap()
	switch {
	case cfg.Encrypt != nil:
		return nil, CreateStats{}, ist, errors.New("image: an incremental image cannot be encrypted (it is built on the block map)")
	case bm == nil:
		return nil, CreateStats{}, ist, fmt.Errorf("%w: base image %s has no block map", ErrWrongBase, bh.ID)
	case bh.Encrypted:
		return nil, CreateStats{}, ist, fmt.Errorf("%w: base image %s is encrypted (an increment cannot be)", ErrWrongBase, bh.ID)
	case src.r != nil:
		return nil, CreateStats{}, ist, errors.New("image: an incremental image needs a file or device source, not a stream")
	case cfg.BlockSize == NoBlockMap:
		return nil, CreateStats{}, ist, errors.New("image: an incremental image needs a block map")
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = bm.BlockSize()
	}
	if cfg.BlockSize != bm.BlockSize() {
		return nil, CreateStats{}, ist, fmt.Errorf("image: block size %d differs from the base's %d", cfg.BlockSize, bm.BlockSize())
	}
	nm, err := newBlockMapOf(ctx, src, cfg, cfg.BlockSize)
	if err != nil {
		return nil, CreateStats{}, ist, err
	}
	lit, litIdx, rel, ist := planIncrement(nm, bm)
	cfg.Used = lit
	cfg.delta = &deltaPlan{baseID: bh.ID, baseRoot: bh.ManifestRoot, shift: nm.shift, extents: nm.extents, hashes: nm.hashes,
		lit: litIdx, reloc: rel}
	h, st, err := Create(ctx, src, dst, cfg)
	if err != nil {
		return nil, st, ist, err
	}
	if l := cfg.Logger; l != nil {
		l.Info("incremental image", "base", bh.ID, "blocks", ist.Blocks, "literal", ist.LiteralBlocks,
			"same_place", ist.SamePlace, "relocated", ist.Relocated, "stored", h.StoredBytes)
	}
	return h, st, ist, nil
}
