package image

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/cespare/xxhash/v2"
)

// The block map names the content of an image's used data block by block,
// so that a receiver can tell by hashing its own target which parts of an
// image it already holds (a resumed run, an older release), and a creator
// can tell which blocks a base image already has. docs/FORMAT.md, "Block map".
//
// Blocks are the aligned windows [k·B, (k+1)·B) of the target. The map lists
// the used extents (the union of the chunks' ranges), the end of every
// chunk's span, and one SHA-256 per block that holds used bytes: the hash of
// those bytes only, back to back (gaps are not part of the image, so what a
// target holds there does not matter).

// Block sizes a block map may have.
const (
	DefaultBlockSize = 16 << 10
	MinBlockSize     = 4 << 10
	MaxBlockSize     = 1 << 20
	// MaxBlockMapLen bounds an encoded block map, so a receiver's memory
	// stays bounded (8 Mi blocks: 128 GiB of used data at 16 KiB). A larger
	// map is not written: the image then has none (use a larger block size).
	MaxBlockMapLen = 256 << 20
)

var blockMapMagic = [4]byte{'D', 'S', 'B', 'M'}

const blockMapFixed = 24

// BlockMap is an image's block map. Build one with CreateChunks (it is in
// CreateStats and in the image file), read it with Reader.BlockMap or
// ManifestChecker.BlockMap; ParseBlockMap checks every rule.
type BlockMap struct {
	shift   uint
	extents []Range    // used target bytes, sorted, neither overlapping nor touching
	spans   []int64    // spans[i] = end of chunk i's span
	hashes  [][32]byte // per block with used bytes, in target order
	block   []int64    // block number of hashes[i]
	first   []int32    // first extent touching block i
	raw     []byte     // the encoding

	lit   *bitset      // an increment's literal blocks (blockmap_incr.go); nil: no section
	reloc []Relocation // an increment's relocated full blocks
	keyed bool         // hashes are HMAC-SHA256 (blockmap_keyed.go)
	key   []byte       // their key, once given (WithKey)
}

// BlockSize is the map's block size in bytes.
func (m *BlockMap) BlockSize() int { return 1 << m.shift }

// Len is the number of blocks that hold used bytes.
func (m *BlockMap) Len() int { return len(m.hashes) }

// Chunks is the number of chunks whose spans the map records.
func (m *BlockMap) Chunks() int { return len(m.spans) }

// Extents returns the used extents; do not modify.
func (m *BlockMap) Extents() []Range { return m.extents }

// Hash is the SHA-256 of block i's used bytes.
func (m *BlockMap) Hash(i int) [32]byte { return m.hashes[i] }

// Block is the block number (offset / BlockSize) of block i.
func (m *BlockMap) Block(i int) int64 { return m.block[i] }

// Span is chunk i's span.
func (m *BlockMap) Span(i int) Range {
	var start int64
	if i > 0 {
		start = m.spans[i-1]
	}
	return Range{Off: start, Len: m.spans[i] - start}
}

// UsedBytes is the number of used bytes (the sum of the extents).
func (m *BlockMap) UsedBytes() int64 {
	var n int64
	for _, e := range m.extents {
		n += e.Len
	}
	return n
}

// MarshalBinary returns the map's encoding (the map's own slice).
func (m *BlockMap) MarshalBinary() ([]byte, error) { return m.raw, nil }

// Ranges appends to dst the used ranges of block i (in target order).
func (m *BlockMap) Ranges(dst []Range, i int) []Range {
	lo := m.block[i] << m.shift
	hi := lo + 1<<m.shift
	for e := int(m.first[i]); e < len(m.extents) && m.extents[e].Off < hi; e++ {
		x := m.extents[e]
		s, t := max(x.Off, lo), min(x.End(), hi)
		if s < t {
			dst = append(dst, Range{Off: s, Len: t - s})
		}
	}
	return dst
}

// blocksOf lists the blocks touched by extents: block numbers and the first
// extent touching each.
func blocksOf(extents []Range, shift uint) (block []int64, first []int32) {
	for e, x := range extents {
		for k := x.Off >> shift; k <= (x.End()-1)>>shift; k++ {
			if n := len(block); n > 0 && block[n-1] == k {
				continue
			}
			block = append(block, k)
			first = append(first, int32(e))
		}
	}
	return block, first
}

// countBlocks is len(blocksOf(extents, shift)) without the lists.
func countBlocks(extents []Range, shift uint) int64 {
	var n, last int64 = 0, -1
	for _, x := range extents {
		a, b := x.Off>>shift, (x.End()-1)>>shift
		if a == last {
			a++
		}
		if b >= a {
			n += b - a + 1
		}
		last = b
	}
	return n
}

func blockShift(size int) (uint, error) {
	if size < MinBlockSize || size > MaxBlockSize || size&(size-1) != 0 {
		return 0, fmt.Errorf("image: block size %d: want a power of two in %d..%d", size, MinBlockSize, MaxBlockSize)
	}
	s := uint(0)
	for 1<<s < size {
		s++
	}
	return s, nil
}

// encodeBlockMap builds the encoding of a map from its parts.
func encodeBlockMap(shift uint, extents []Range, spans []int64, hashes [][32]byte) []byte {
	return encodeBlockMapIncr(shift, extents, spans, hashes, nil, nil)
}

// encodeKeyedBlockMap is encodeBlockMap for hashes keyed with the map key.
func encodeKeyedBlockMap(shift uint, extents []Range, spans []int64, hashes [][32]byte) []byte {
	b := encodeBlockMap(shift, extents, spans, hashes)
	b[6] |= mapFlagKeyed
	le.PutUint64(b[len(b)-8:], xxhash.Sum64(b[:len(b)-8]))
	return b
}

// encodeBlockMapIncr is encodeBlockMap with an increment section when lit is
// not nil (blockmap_incr.go).
func encodeBlockMapIncr(shift uint, extents []Range, spans []int64, hashes [][32]byte, lit []int, rel []Relocation) []byte {
	b := make([]byte, 0, blockMapFixed+16*len(extents)+8*len(spans)+32*len(hashes)+8)
	var flags byte
	if lit != nil {
		flags = mapFlagIncrement
	}
	b = append(b, blockMapMagic[:]...)
	b = append(b, formatVersion, byte(shift), flags, 0)
	b = le.AppendUint32(b, uint32(len(extents)))
	b = le.AppendUint32(b, uint32(len(spans)))
	b = le.AppendUint32(b, uint32(len(hashes)))
	b = le.AppendUint32(b, 0)
	for _, e := range extents {
		b = le.AppendUint64(b, uint64(e.Off))
		b = le.AppendUint64(b, uint64(e.Len))
	}
	for _, s := range spans {
		b = le.AppendUint64(b, uint64(s))
	}
	for _, h := range hashes {
		b = append(b, h[:]...)
	}
	if lit != nil {
		b = encodeIncrSection(b, len(hashes), lit, rel)
	}
	return le.AppendUint64(b, xxhash.Sum64(b))
}

// ParseBlockMap decodes and checks a block map (docs/FORMAT.md, "Block
// map"). b is kept. Checks against an image header are CheckHeader's.
func ParseBlockMap(b []byte) (*BlockMap, error) {
	if len(b) < blockMapFixed+8 {
		return nil, fmt.Errorf("%w: block map: %d bytes", ErrTruncated, len(b))
	}
	if [4]byte(b[0:4]) != blockMapMagic {
		return nil, corruptf("block map: bad magic")
	}
	if b[4] != formatVersion {
		return nil, fmt.Errorf("%w: block map version %d", ErrVersion, b[4])
	}
	if xxhash.Sum64(b[:len(b)-8]) != le.Uint64(b[len(b)-8:]) {
		return nil, corruptf("block map: checksum mismatch")
	}
	shift := uint(b[5])
	if shift < 12 || shift > 20 || b[6]&^(mapFlagIncrement|mapFlagKeyed) != 0 || b[6] == mapFlagIncrement|mapFlagKeyed ||
		b[7] != 0 || le.Uint32(b[20:]) != 0 {
		return nil, corruptf("block map: bad block size, flags or reserved bytes")
	}
	incr := b[6]&mapFlagIncrement != 0
	ne, nc, nh := uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:])), uint64(le.Uint32(b[16:]))
	body := blockMapFixed + 16*ne + 8*nc + 32*nh
	if n := uint64(len(b)); (!incr && n != body+8) || (incr && n < body+8) {
		return nil, corruptf("block map: length %d does not match its counts", len(b))
	}
	if nc < 1 || nc > MaxChunkCount {
		return nil, corruptf("block map: %d chunks", nc)
	}
	m := &BlockMap{shift: shift, raw: b, extents: make([]Range, ne), spans: make([]int64, nc), hashes: make([][32]byte, nh),
		keyed: b[6]&mapFlagKeyed != 0}
	p := b[blockMapFixed:]
	var prev int64 = -1
	for i := range m.extents {
		off, n := le.Uint64(p), le.Uint64(p[8:])
		p = p[16:]
		if n == 0 || off > 1<<62 || n > 1<<62 || int64(off) <= prev {
			return nil, corruptf("block map: extent %d [%d,+%d) empty, out of order or touching the one before", i, off, n)
		}
		m.extents[i] = Range{Off: int64(off), Len: int64(n)}
		prev = int64(off + n)
	}
	prev = 0
	for i := range m.spans {
		s := int64(le.Uint64(p))
		p = p[8:]
		if s < prev {
			return nil, corruptf("block map: chunk %d's span ends before the one before", i)
		}
		m.spans[i] = s
		prev = s
	}
	if ne > 0 && m.extents[ne-1].End() > m.spans[nc-1] {
		return nil, corruptf("block map: extents beyond the target")
	}
	if uint64(countBlocks(m.extents, shift)) != nh {
		return nil, corruptf("block map: %d hashes for %d blocks", nh, countBlocks(m.extents, shift))
	}
	for i := range m.hashes {
		m.hashes[i] = [32]byte(p)
		p = p[32:]
	}
	m.block, m.first = blocksOf(m.extents, shift)
	if incr {
		if err := m.parseIncrSection(p[:len(p)-8]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// CheckHeader checks that the map belongs to the image of complete header h:
// its block size, chunk count and target size.
func (m *BlockMap) CheckHeader(h *Header) error {
	switch {
	case !h.Complete:
		return corruptf("block map: header not complete")
	case h.BlockSize != m.BlockSize():
		return corruptf("block map: block size %d, header says %d", m.BlockSize(), h.BlockSize)
	case len(m.spans) != int(h.ChunkCount):
		return corruptf("block map: %d chunks, header says %d", len(m.spans), h.ChunkCount)
	case m.spans[len(m.spans)-1] != h.TargetSize:
		return corruptf("block map: target ends at %d, header says %d", m.spans[len(m.spans)-1], h.TargetSize)
	case len(m.raw) != int(h.BlockMapLen):
		return corruptf("block map: %d bytes, header says %d", len(m.raw), h.BlockMapLen)
	}
	return nil
}

// mapBuilder hashes the used bytes of a creation as the cutter reads them,
// in target order.
type mapBuilder struct {
	shift   uint
	extents []Range
	hashes  [][32]byte
	spans   []int64
	cur     int64
	open    bool
	h       hash.Hash
	size    int64 // encoded size so far, to give up on a map too large
	over    bool
	keyed   bool
}

// newMapBuilder hashes with SHA-256, or with HMAC-SHA256 under key's map key for an
// encrypted image (key not nil; blockmap_keyed.go).
func newMapBuilder(blockSize int, key *Key) (*mapBuilder, error) {
	s, err := blockShift(blockSize)
	if err != nil {
		return nil, err
	}
	if key != nil {
		return &mapBuilder{shift: s, h: hmac.New(sha256.New, key.mapKey), keyed: true}, nil
	}
	return &mapBuilder{shift: s, h: sha256.New()}, nil
}

// add takes used bytes p at target offset at (after every earlier ones).
func (b *mapBuilder) add(at int64, p []byte) {
	if b.over {
		return
	}
	if n := len(b.extents); n > 0 && b.extents[n-1].End() == at {
		b.extents[n-1].Len += int64(len(p))
	} else {
		b.extents = append(b.extents, Range{Off: at, Len: int64(len(p))})
		b.size += 16
	}
	for len(p) > 0 {
		k := at >> b.shift
		if !b.open || k != b.cur {
			b.finish()
			b.cur, b.open = k, true
		}
		n := min(int64(len(p)), (k+1)<<b.shift-at)
		b.h.Write(p[:n])
		at += n
		p = p[n:]
	}
	if b.size > MaxBlockMapLen {
		b.over, b.extents, b.hashes = true, nil, nil
	}
}

func (b *mapBuilder) finish() {
	if !b.open {
		return
	}
	var s [32]byte
	b.h.Sum(s[:0])
	b.h.Reset()
	b.hashes = append(b.hashes, s)
	b.size += 32
	b.open = false
}

// span records the end of the next chunk's span. It is called from the
// emitter's goroutine while add runs on the cutter's: it touches spans only.
func (b *mapBuilder) span(end int64) { b.spans = append(b.spans, end) }

// done returns the map, or nil if it grew beyond MaxBlockMapLen.
func (b *mapBuilder) done() *BlockMap {
	b.finish()
	if b.over || b.size+int64(8*len(b.spans))+blockMapFixed+8 > MaxBlockMapLen {
		return nil
	}
	raw := encodeBlockMap(b.shift, b.extents, b.spans, b.hashes)
	if b.keyed {
		raw = encodeKeyedBlockMap(b.shift, b.extents, b.spans, b.hashes)
	}
	m, err := ParseBlockMap(raw)
	if err != nil {
		panic("image: internal error: built block map does not parse: " + err.Error())
	}
	return m
}
