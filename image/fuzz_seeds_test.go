package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz from the current format
// (DISCUS_WRITE_SEEDS=1 go test -run TestWriteFuzzSeeds ./image): the
// golden seeds must follow every format version change, or the fuzzers
// start from bytes every parser refuses at the version byte.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DISCUS_WRITE_SEEDS") == "" {
		t.Skip("set DISCUS_WRITE_SEEDS=1 to rewrite testdata/fuzz")
	}
	img := fuzzImage()
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	signed, sr := fuzzSignedImage()
	chunk := func(i int) []byte { c, _ := r.Chunk(i); return c }
	zeroData := make([]byte, 5000)
	zimg, _, _ := createImage(t, NewSource(bytes.NewReader(zeroData), int64(len(zeroData))), CreateConfig{ChunkSize: MinChunkSize, ID: ID{9}})
	zr, _ := Open(bytes.NewReader(zimg), int64(len(zimg)))
	empty, _ := zr.Chunk(0) // an all-zero target: one chunk without ranges
	hb, _ := r.Header().MarshalBinary()
	pb, _ := r.Preliminary().MarshalBinary()
	meta, _ := MarshalMeta(sr.Header(), sr.Signature())
	sb, _ := sr.Signature().MarshalBinary()
	indexOf := func(b []byte, r *Reader) ([]byte, uint32, uint32) {
		at := r.offs[len(r.offs)-1]
		first := r.offs[0]
		return b[at : len(b)-trailerLen], uint32(first), uint32(at)
	}
	ui, uf, ua := indexOf(img, r)
	si, sf, sa := indexOf(signed, sr)
	table, _ := sr.ManifestPart(0)
	piece, _ := sr.ManifestPart(1)
	seeds := map[string][]any{
		"FuzzOpen/small-image":                 {img},
		"FuzzOpen/signed-image":                {signed},
		"FuzzOpen/all-zero-image":              {zimg},
		"FuzzOpen/truncated":                   {img[:len(img)-100]},
		"FuzzParseChunk/small-zstd":            {chunk(0)},
		"FuzzInstall/small-zstd":               {chunk(0)},
		"FuzzParseHeader/complete":             {hb},
		"FuzzParseHeader/preliminary":          {pb},
		"FuzzParseHeader/short":                {hb[:headerFixedLen]},
		"FuzzDiskReader/seed-empty":            {[]byte{}, uint8(0), uint32(4096), uint32(100)},
		"FuzzDiskReader/seed-short":            {chunk(0)[:8], uint8(1), uint32(0), uint32(65536)},
		"FuzzParseMeta/signed":                 {meta},
		"FuzzParseMeta/unsigned":               {hb},
		"FuzzParseMeta/preliminary":            {pb},
		"FuzzParseSignature/block":             {sb},
		"FuzzParseIndex/unsigned":              {ui, uf, ua},
		"FuzzParseIndex/signed":                {si, sf, sa},
		"FuzzManifestChecker/table":            {0, table, 0, chunk(0)},
		"FuzzManifestChecker/piece":            {1, piece, 0, chunk(0)},
		"FuzzManifestChecker/forged-piece":     {1, bytes.Repeat([]byte{1}, len(piece)), 0, chunk(0)[1:]},
		"FuzzManifestChecker/out-of-range-idx": {5, piece, 1 << 30, []byte("DSCK")},
	}
	seeds["FuzzParseChunk/empty-chunk"] = []any{empty}
	if bm := r.BlockMap(); bm != nil {
		seeds["FuzzParseBlockMap/small-image"] = []any{bm.raw}
	}
	ih := *r.Header()
	ih.DeltaBase, ih.BaseRoot = ID{7}, [32]byte{8}
	if ihb, err := ih.MarshalBinary(); err == nil {
		seeds["FuzzParseHeader/incremental"] = []any{ihb}
	}
	if inc := fuzzIncremental(t); inc != nil {
		seeds["FuzzOpen/incremental"] = []any{inc}
		seeds["FuzzApplyIncremental/incremental"] = []any{inc}
	}
	for name, vals := range seeds {
		var sb strings.Builder
		sb.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&sb, "[]byte(%q)\n", v)
			case uint8:
				fmt.Fprintf(&sb, "uint8(%d)\n", v)
			case uint32:
				fmt.Fprintf(&sb, "uint32(%d)\n", v)
			case int:
				fmt.Fprintf(&sb, "int(%d)\n", v)
			}
		}
		p := filepath.Join("testdata", "fuzz", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzIncremental is a small incremental image (of a 256 KiB disk with one
// block changed against its base).
func fuzzIncremental(t *testing.T) []byte {
	old := compressible(7, 256<<10)
	nw := bytes.Clone(old)
	copy(nw[64<<10:], randomBytes(8, 1000))
	bimg, _, _ := createImage(t, NewSource(bytes.NewReader(old), int64(len(old))), CreateConfig{ChunkSize: MinChunkSize, ID: ID{5}})
	base, err := Open(bytes.NewReader(bimg), int64(len(bimg)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, _, _, err := CreateIncremental(context.Background(), NewSource(bytes.NewReader(nw), int64(len(nw))), base, &buf, CreateConfig{ChunkSize: MinChunkSize, ID: ID{6}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
