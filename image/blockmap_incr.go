package image

import (
	"fmt"
	"sort"
)

// The increment section of a block map (docs/FORMAT.md, "Block map",
// "Increment section"). An incremental image's map is NEW's whole map; the
// section adds what a receiver that does not hold BASE's map needs to take
// the increment over multicast: which blocks are literal (carried by the
// increment's own chunks; every other block is a reference, carried by the
// session's reference chunks, docs/PROTOCOL.md §3.9) and, for references
// whose content BASE holds at another block number, that number, so a
// receiver holding BASE can copy the block from its own disk. The section is
// under the manifest root like the rest of the map, but a receiver never
// trusts a relocation: it copies a block only when the bytes it reads hash
// to NEW's hash for it.

// Relocation names a full block of BASE, at another block number, whose
// bytes are a full block of NEW.
type Relocation struct {
	Block int   // the new block (map index)
	From  int64 // the base block number holding its bytes
}

const (
	mapFlagIncrement = 1 << 0 // byte 6 of the map: an increment section follows the hashes
	relocLen         = 12
)

// IsIncrement reports whether the map has an increment section (it is an
// incremental image's).
func (m *BlockMap) IsIncrement() bool { return m.lit != nil }

// Literal reports whether block i is carried by the increment's chunks.
func (m *BlockMap) Literal(i int) bool { return m.lit != nil && m.lit.get(i) }

// Relocations lists the relocated full blocks, by ascending Block; do not
// modify.
func (m *BlockMap) Relocations() []Relocation { return m.reloc }

// full reports whether block i's used bytes are the whole block.
func (m *BlockMap) full(i int) bool {
	lo := m.block[i] << m.shift
	e := m.extents[m.first[i]]
	return e.Off <= lo && e.End() >= lo+1<<m.shift
}

// encodeIncrSection appends the section for the literal blocks lit (map
// indexes, ascending) and relocations rel to an encoding whose hashes end
// at len(b) (before the checksum).
func encodeIncrSection(b []byte, nh int, lit []int, rel []Relocation) []byte {
	bits := make([]byte, (nh+7)/8)
	for _, i := range lit {
		bits[i/8] |= 1 << (i % 8)
	}
	b = append(b, bits...)
	b = le.AppendUint32(b, uint32(len(rel)))
	for _, r := range rel {
		b = le.AppendUint32(b, uint32(r.Block))
		b = le.AppendUint64(b, uint64(r.From))
	}
	return b
}

// parseIncrSection decodes the section in p (exactly its bytes) into m,
// whose blocks are known.
func (m *BlockMap) parseIncrSection(p []byte) error {
	nh := len(m.hashes)
	nb := (nh + 7) / 8
	if len(p) < nb+4 {
		return corruptf("block map: increment section of %d bytes for %d blocks", len(p), nh)
	}
	if nh%8 != 0 && p[nb-1]>>(nh%8) != 0 {
		return corruptf("block map: literal bits set past the last block")
	}
	m.lit = &bitset{}
	for i := range nh {
		if p[i/8]&(1<<(i%8)) != 0 {
			m.lit.set(i)
		}
	}
	p = p[nb:]
	nr := uint64(le.Uint32(p))
	p = p[4:]
	if uint64(len(p)) != nr*relocLen || nr > uint64(nh) {
		return corruptf("block map: %d relocations in %d bytes", nr, len(p))
	}
	m.reloc = make([]Relocation, nr)
	prev := -1
	for k := range m.reloc {
		i, from := int(le.Uint32(p)), le.Uint64(p[4:])
		p = p[relocLen:]
		switch {
		case i <= prev || i >= nh:
			return corruptf("block map: relocation %d of block %d out of order or range", k, i)
		case m.lit.get(i):
			return corruptf("block map: literal block %d relocated", i)
		case !m.full(i):
			return corruptf("block map: relocated block %d is not a full block", i)
		case from > 1<<62>>m.shift || int64(from) == m.block[i]:
			return corruptf("block map: block %d relocated from block %d", i, from)
		}
		m.reloc[k] = Relocation{Block: i, From: int64(from)}
		prev = i
	}
	return nil
}

// LiteralRanges appends to dst the used ranges of the literal blocks inside
// chunk i's span, merged where they touch: exactly the ranges of the
// incremental image's chunk i.
func (m *BlockMap) LiteralRanges(dst []Range, i int) []Range {
	sp := m.Span(i)
	start := len(dst)
	k := sort.Search(len(m.block), func(j int) bool { return (m.block[j]+1)<<m.shift > sp.Off })
	var rs []Range
	for ; k < len(m.block) && m.block[k]<<m.shift < sp.End(); k++ {
		if !m.Literal(k) {
			continue
		}
		rs = m.Ranges(rs[:0], k)
		for _, r := range rs {
			s, t := max(r.Off, sp.Off), min(r.End(), sp.End())
			if s >= t {
				continue
			}
			if n := len(dst); n > start && dst[n-1].End() == s {
				dst[n-1].Len += t - s
			} else {
				dst = append(dst, Range{Off: s, Len: t - s})
			}
		}
	}
	return dst
}

// RefLayout is the deterministic split of an incremental image's reference
// blocks (every block not literal, in block order) into reference chunks:
// each takes the next blocks while its header and uncompressed bytes fit the
// chunk size, so a chunk fits even stored raw. Sender and receivers compute
// it from the map alone (docs/PROTOCOL.md §3.9).
type RefLayout struct {
	m     *BlockMap
	refs  []int32 // map indexes of the reference blocks
	first []int32 // first[j] = index into refs of chunk j's first block; len = chunks + 1
}

// RefLayout splits the map's reference blocks into chunks of at most
// chunkSize bytes each (header included). The map must be an increment's.
func (m *BlockMap) RefLayout(chunkSize int) (*RefLayout, error) {
	if !m.IsIncrement() {
		return nil, fmt.Errorf("image: reference chunks of a map without an increment section")
	}
	l := &RefLayout{m: m, first: []int32{0}}
	var (
		rs      []Range
		raw     int64
		nr      int
		lastEnd int64 = -1
	)
	for i := range m.Len() {
		if m.Literal(i) {
			continue
		}
		rs = m.Ranges(rs[:0], i)
		var braw int64
		bn := len(rs)
		for _, r := range rs {
			braw += r.Len
		}
		if rs[0].Off == lastEnd {
			bn-- // merges with the chunk's last range
		}
		if len(l.refs) > int(l.first[len(l.first)-1]) && int64(chunkHeaderLen(nr+bn, cflagDelta))+raw+braw > int64(chunkSize) {
			l.first = append(l.first, int32(len(l.refs)))
			raw, nr, bn = 0, 0, len(rs)
		}
		if int64(chunkHeaderLen(bn, cflagDelta))+braw > int64(chunkSize) {
			return nil, fmt.Errorf("image: block %d does not fit a reference chunk of %d bytes", m.block[i], chunkSize)
		}
		l.refs = append(l.refs, int32(i))
		raw += braw
		nr += bn
		lastEnd = rs[len(rs)-1].End()
	}
	if len(l.refs) > int(l.first[len(l.first)-1]) {
		l.first = append(l.first, int32(len(l.refs)))
	}
	return l, nil
}

// Chunks is the number of reference chunks.
func (l *RefLayout) Chunks() int { return len(l.first) - 1 }

// Blocks returns the map indexes of reference chunk j's blocks; do not modify.
func (l *RefLayout) Blocks(j int) []int32 { return l.refs[l.first[j]:l.first[j+1]] }

// Ranges appends to dst reference chunk j's ranges: its blocks' used ranges
// in order, merged where they touch.
func (l *RefLayout) Ranges(dst []Range, j int) []Range {
	start := len(dst)
	var rs []Range
	for _, i := range l.Blocks(j) {
		rs = l.m.Ranges(rs[:0], int(i))
		for _, r := range rs {
			if n := len(dst); n > start && dst[n-1].End() == r.Off {
				dst[n-1].Len += r.Len
			} else {
				dst = append(dst, r)
			}
		}
	}
	return dst
}

// Span is reference chunk j's span: from its first used byte to its last.
func (l *RefLayout) Span(j int) Range {
	b := l.Blocks(j)
	lo := l.m.Ranges(nil, int(b[0]))[0].Off
	last := l.m.Ranges(nil, int(b[len(b)-1]))
	hi := last[len(last)-1].End()
	return Range{Off: lo, Len: hi - lo}
}

// Held reports, from the target's matched blocks, which reference chunks the
// target holds whole.
func (l *RefLayout) Held(match []bool) []bool {
	held := make([]bool, l.Chunks())
	for j := range held {
		held[j] = true
		for _, i := range l.Blocks(j) {
			if !match[i] {
				held[j] = false
				break
			}
		}
	}
	return held
}
