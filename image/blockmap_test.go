package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"
)

// blockMapData is a disk with data, zero blocks and repeats at odd places.
func blockMapData(size int) []byte {
	rng := rand.New(rand.NewPCG(7, 8))
	b := make([]byte, size)
	for off := 0; off < size; {
		n := min(size-off, 1000+rng.IntN(60000))
		if rng.IntN(3) > 0 {
			for i := off; i < off+n; i++ {
				b[i] = byte(rng.IntN(7)) // compressible, not zero
			}
		}
		off += n
	}
	return b
}

func TestBlockMapCreated(t *testing.T) {
	data := blockMapData(5<<20 + 1234)
	for _, bs := range []int{MinBlockSize, DefaultBlockSize, 64 << 10} {
		img, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, BlockSize: bs})
		if h.BlockSize != bs || h.BlockMapLen == 0 || st.BlockMap == nil {
			t.Fatalf("block size %d: header %d/%d, map %v", bs, h.BlockSize, h.BlockMapLen, st.BlockMap != nil)
		}
		r, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		bm := r.BlockMap()
		if bm == nil || !bytes.Equal(bm.raw, st.BlockMap.raw) {
			t.Fatal("the file's block map is not the creator's")
		}
		// Extents are the union of the chunks' ranges; spans are the chunks'.
		var union []Range
		for i := range r.NumChunks() {
			ch, _, err := r.VerifyChunk(i, nil)
			if err != nil {
				t.Fatal(err)
			}
			if bm.Span(i) != ch.Span {
				t.Fatalf("chunk %d span %v, map %v", i, ch.Span, bm.Span(i))
			}
			if got := bm.ChunkRanges(nil, i); !equalRanges(got, ch.Ranges) {
				t.Fatalf("chunk %d ranges %v, map %v", i, ch.Ranges, got)
			}
			for _, rg := range ch.Ranges {
				if n := len(union); n > 0 && union[n-1].End() == rg.Off {
					union[n-1].Len += rg.Len
				} else {
					union = append(union, rg)
				}
			}
		}
		if !equalRanges(union, bm.Extents()) {
			t.Fatalf("extents differ from the chunks' ranges")
		}
		// Each hash is the SHA-256 of the block's used bytes.
		for i := range bm.Len() {
			h := sha256.New()
			for _, rg := range bm.Ranges(nil, i) {
				if rg.Off>>bm.shift != bm.Block(i) {
					t.Fatal("range outside its block")
				}
				h.Write(data[rg.Off:rg.End()])
			}
			if [32]byte(h.Sum(nil)) != bm.Hash(i) {
				t.Fatalf("block %d: hash differs", i)
			}
		}
		// A copy of the data holds every block; a changed byte loses one block and its chunk(s).
		match, hs, err := HashTarget(context.Background(), bytes.NewReader(data), bm, 3)
		if err != nil || hs.Matched != bm.Len() {
			t.Fatalf("hash of the source: %d/%d, %v", hs.Matched, bm.Len(), err)
		}
		held := bm.HeldChunks(match)
		for i, ok := range held {
			if !ok {
				t.Fatalf("chunk %d not held by the source", i)
			}
		}
		mod := bytes.Clone(data)
		x := bm.Ranges(nil, bm.Len()/2)[0].Off
		mod[x] ^= 0xff
		match, hs, _ = HashTarget(context.Background(), bytes.NewReader(mod[:len(mod)-100000]), bm, 2)
		miss := 0
		for i, ok := range match {
			if !ok {
				miss++
				if i == bm.Len()/2 {
					continue
				}
			}
		}
		if match[bm.Len()/2] || miss < 2 {
			t.Fatalf("changed block matched, or the cut tail did (%d missing)", miss)
		}
		held = bm.HeldChunks(match)
		nh := 0
		for _, ok := range held {
			if !ok {
				nh++
			}
		}
		if nh == 0 || nh == len(held) {
			t.Fatalf("%d of %d chunks not held", nh, len(held))
		}
		t.Logf("block size %d: %d blocks, map %d bytes, %d/%d chunks to fetch", bs, bm.Len(), len(bm.raw), nh, len(held))
	}
}

func equalRanges(a, b []Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBlockMapRefused(t *testing.T) {
	data := blockMapData(1 << 20)
	_, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	raw := st.BlockMap.raw
	if err := st.BlockMap.CheckHeader(h); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{0, 4, 5, 6, 8, 12, 16, 20, 24, 40, len(raw) - 40, len(raw) - 1} {
		b := bytes.Clone(raw)
		b[off] ^= 1
		if _, err := ParseBlockMap(b); err == nil {
			t.Fatalf("flipped byte %d accepted", off)
		}
	}
	if _, err := ParseBlockMap(raw[:len(raw)-1]); err == nil {
		t.Fatal("short map accepted")
	}
	// A well-formed map of wrong content: hashes counted right but extents swapped.
	bad := encodeBlockMap(st.BlockMap.shift, []Range{{Off: 100, Len: 10}, {Off: 50, Len: 10}}, []int64{1 << 20}, make([][32]byte, 2))
	if _, err := ParseBlockMap(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("extents out of order: %v", err)
	}
	bad = encodeBlockMap(st.BlockMap.shift, []Range{{Off: 100, Len: 10}}, []int64{1 << 20}, make([][32]byte, 2))
	if _, err := ParseBlockMap(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("hash count wrong: %v", err)
	}
	h2 := *h
	h2.ChunkCount++
	if err := st.BlockMap.CheckHeader(&h2); err == nil {
		t.Fatal("map of another chunk count accepted")
	}
}

func TestBlockMapNone(t *testing.T) {
	data := blockMapData(1 << 20)
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, BlockSize: NoBlockMap})
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil || h.BlockSize != 0 || h.BlockMapLen != 0 || r.BlockMap() != nil {
		t.Fatalf("NoBlockMap: %v, %d/%d", err, h.BlockSize, h.BlockMapLen)
	}
	if _, _, err := createImage2(data, CreateConfig{BlockSize: 1000}); err == nil {
		t.Fatal("block size 1000 accepted")
	}
}

func TestManifestCheckerBlockMap(t *testing.T) {
	data := blockMapData(3 << 20)
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, BlockSize: MinBlockSize})
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	mc, err := NewManifestChecker(h)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Parts() != r.ManifestParts() || !mc.HasBlockMap() {
		t.Fatalf("parts %d, reader %d", mc.Parts(), r.ManifestParts())
	}
	for j := mc.Parts() - 1; j >= 0; j-- { // map pieces first: pending until the table
		p, _ := r.ManifestPart(j)
		err := mc.AddPart(j, p)
		if j > 0 && !errors.Is(err, ErrManifestPending) {
			t.Fatalf("part %d before the table: %v", j, err)
		}
	}
	for j := 1; j < mc.Parts(); j++ {
		p, _ := r.ManifestPart(j)
		if j == mc.Parts()-1 {
			q := bytes.Clone(p)
			q[0] ^= 1
			if err := mc.AddPart(j, q); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("forged map piece: %v", err)
			}
			if mc.BlockMap() != nil {
				t.Fatal("map before its last piece")
			}
		}
		if err := mc.AddPart(j, p); err != nil {
			t.Fatalf("part %d: %v", j, err)
		}
	}
	if !mc.Complete() || mc.BlockMap() == nil || !bytes.Equal(mc.BlockMap().raw, r.BlockMap().raw) {
		t.Fatal("checker did not assemble the map")
	}
}

func FuzzParseBlockMap(f *testing.F) {
	data := blockMapData(300 << 10)
	_, _, st := createImage(f, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, BlockSize: MinBlockSize})
	f.Add(st.BlockMap.raw)
	f.Add(encodeBlockMap(12, nil, []int64{0}, nil))
	// An increment's map: every other block literal, a full one relocated.
	bm := st.BlockMap
	var lit []int
	var rel []Relocation
	for i := range bm.Len() {
		if i%2 == 0 {
			lit = append(lit, i)
		} else if len(rel) == 0 && bm.full(i) {
			rel = append(rel, Relocation{Block: i, From: bm.block[i] + 100})
		}
	}
	f.Add(encodeBlockMapIncr(bm.shift, bm.extents, bm.spans, bm.hashes, lit, rel))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBlockMap(b)
		if err != nil {
			return
		}
		// A map that parses re-encodes to the same bytes, and its blocks' ranges stay inside them.
		var lit []int
		if m.IsIncrement() {
			lit = []int{}
			for i := range m.Len() {
				if m.Literal(i) {
					lit = append(lit, i)
				}
			}
		}
		if !bytes.Equal(encodeBlockMapIncr(m.shift, m.extents, m.spans, m.hashes, lit, m.reloc), b) {
			t.Fatal("re-encoding differs")
		}
		if m.IsIncrement() {
			for i := range m.Chunks() {
				_ = m.LiteralRanges(nil, i)
			}
			if l, err := m.RefLayout(MinChunkSize); err == nil {
				held := l.Held(make([]bool, m.Len()))
				for j := range l.Chunks() {
					if held[j] || len(l.Blocks(j)) == 0 {
						t.Fatalf("reference chunk %d held or empty", j)
					}
					_, _ = l.Ranges(nil, j), l.Span(j)
				}
			}
		}
		var rs []Range
		for i := range m.Len() {
			rs = m.Ranges(rs[:0], i)
			if len(rs) == 0 {
				t.Fatalf("block %d without used bytes", i)
			}
		}
		_ = m.HeldChunks(make([]bool, m.Len()))
		for i := range m.Chunks() {
			rs = m.ChunkRanges(rs[:0], i)
		}
	})
}
