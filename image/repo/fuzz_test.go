package repo

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
)

// fuzzRecipe and fuzzCatalog are small valid structures seeding the
// fuzzers (and testdata/fuzz, rewritten by TestWriteFuzzSeeds).
func fuzzRecipe() *Recipe {
	rc := &Recipe{BlockSize: 4096, TargetSize: 1 << 20, SectorSize: 512, Created: time.Unix(1700000000, 5).UTC(),
		Source: "disk.img", Base: "base", Used: []image.Range{{Off: 0, Len: 5000}, {Off: 6000, Len: 100}, {Off: 65536, Len: 4096}}}
	rc.Blocks = make([]Hash, countBlocks(rc.Used, 4096))
	for i := range rc.Blocks {
		if i != 1 {
			rc.Blocks[i][0], rc.Blocks[i][31] = byte(i+1), 7
		}
	}
	return rc
}

func fuzzCatalog() *catalog {
	return &catalog{BlockSize: 16384, FrameSize: 1 << 20, Generation: 3, NextPack: 4,
		Packs:  []packRef{{ID: 0, Size: 100, IndexHash: Hash{1}}, {ID: 3, Size: 200, IndexHash: Hash{2}}},
		Images: []imageRef{{Name: "base", RecipeHash: Hash{3}, RecipeSize: 77}, {Name: "lab-1.v2", RecipeHash: Hash{4}, RecipeSize: 99}}}
}

func fuzzPackIndex() ([]byte, int64) {
	frames := []frame{
		{Off: packHeadLen, Stored: 50, Raw: 8192, Codec: codecZstd, Blocks: []Hash{{1}, {2}}, Lens: []uint32{4096, 4096}},
		{Off: packHeadLen + 50, Stored: 100, Raw: 100, Codec: codecNone, Blocks: []Hash{{3}}, Lens: []uint32{100}},
	}
	return marshalPackIndex(frames), packHeadLen + 150
}

// resum replaces b's last 32 bytes by the SHA-256 of the rest, so that
// the fuzzers reach the parsing behind the checksum.
func resum(b []byte) []byte {
	if len(b) < 32 {
		return b
	}
	out := append([]byte(nil), b[:len(b)-32]...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}

func FuzzParseRecipe(f *testing.F) {
	f.Add(fuzzRecipe().marshal())
	child := fuzzRecipe()
	child.Blocks[0][3] = 9
	child.delta = makeDelta(child.Used, child.Blocks, fuzzRecipe(), Hash{1})
	f.Add(child.marshal())
	f.Add((&Recipe{BlockSize: 16384, SectorSize: 4096}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := parseRecipe(b)
		if err != nil {
			// Past the checksum too: the same bytes with a valid one.
			b = resum(b)
			if rc, err = parseRecipe(b); err != nil {
				return
			}
		}
		if again := rc.marshal(); !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
		if rc.delta == nil && int64(len(rc.Blocks)) != countBlocks(rc.Used, int64(rc.BlockSize)) {
			t.Fatal("block count does not match the used ranges")
		}
	})
}

// FuzzResolveDelta: a delta recipe that parses, resolved against a base,
// gives exactly its block count or an error, never a panic.
func FuzzResolveDelta(f *testing.F) {
	child := fuzzRecipe()
	child.Blocks[0][3] = 9
	child.delta = makeDelta(child.Used, child.Blocks, fuzzRecipe(), Hash{1})
	f.Add(child.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := parseRecipe(resum(b))
		if err != nil || rc.delta == nil {
			return
		}
		base := fuzzRecipe()
		if rc.BlockSize != base.BlockSize {
			return
		}
		blocks, err := rc.delta.resolve(rc.Used, countBlocks(rc.Used, int64(rc.BlockSize)), base)
		if err == nil && int64(len(blocks)) != countBlocks(rc.Used, int64(rc.BlockSize)) {
			t.Fatalf("%d blocks resolved, want %d", len(blocks), countBlocks(rc.Used, int64(rc.BlockSize)))
		}
	})
}

func FuzzParseCatalog(f *testing.F) {
	f.Add(fuzzCatalog().marshal())
	f.Add((&catalog{BlockSize: 4096, FrameSize: 4096}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCatalog(b)
		if err != nil {
			b = resum(b)
			if c, err = parseCatalog(b); err != nil {
				return
			}
		}
		if again := c.marshal(); !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParsePackIndex(f *testing.F) {
	idx, off := fuzzPackIndex()
	f.Add(idx, off)
	f.Fuzz(func(t *testing.T, b []byte, indexOff int64) {
		frames, err := parsePackIndex(b, indexOff, 16384, 1<<20)
		if err != nil {
			return
		}
		if again := marshalPackIndex(frames); !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz (DISCUS_WRITE_SEEDS=1 go
// test -run TestWriteFuzzSeeds ./image/repo) after a format change.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DISCUS_WRITE_SEEDS") == "" {
		t.Skip("set DISCUS_WRITE_SEEDS=1 to rewrite testdata/fuzz")
	}
	idx, off := fuzzPackIndex()
	rc := fuzzRecipe().marshal()
	cat := fuzzCatalog().marshal()
	full := fuzzRecipe()
	child := fuzzRecipe()
	child.Blocks[2][5] = 1
	child.delta = makeDelta(child.Used, child.Blocks, full, Hash{0xaa})
	delta := child.marshal()
	seeds := map[string][]any{
		"FuzzParseRecipe/delta":          {delta},
		"FuzzResolveDelta/delta":         {delta},
		"FuzzParseRecipe/small":          {rc},
		"FuzzParseRecipe/truncated":      {rc[:len(rc)-40]},
		"FuzzParseRecipe/empty-image":    {(&Recipe{BlockSize: 16384, SectorSize: 4096}).marshal()},
		"FuzzParseCatalog/two-images":    {cat},
		"FuzzParseCatalog/empty":         {(&catalog{BlockSize: 4096, FrameSize: 4096}).marshal()},
		"FuzzParsePackIndex/two-frames":  {idx, off},
		"FuzzParsePackIndex/wrong-end":   {idx, off + 1},
		"FuzzParsePackIndex/huge-counts": {append([]byte(packIdxMagic+"\x01\x00\x00\x00"), 0xff, 0xff, 0xff, 0xff), int64(1 << 40)},
	}
	for name, vals := range seeds {
		var sb strings.Builder
		sb.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&sb, "[]byte(%q)\n", v)
			case int64:
				fmt.Fprintf(&sb, "int64(%d)\n", v)
			}
		}
		p := filepath.Join("testdata", "fuzz", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
