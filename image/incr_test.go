package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// upgradeExt4 copies the ext4 at base and changes it in place with debugfs
// (no mount needed): files rewritten, added, moved, one copied (its blocks
// are then at a new place with the base's content: relocations), one
// removed. It returns the new filesystem's path.
func upgradeExt4(t *testing.T, base string) string {
	t.Helper()
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Skip("debugfs not installed (e2fsprogs)")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	nw := filepath.Join(dir, "new.ext4")
	os.WriteFile(nw, b, 0o644)
	var cmds strings.Builder
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("changed%d", i))
		os.WriteFile(p, randomBytes(uint64(100+i), 200<<10), 0o644)
		fmt.Fprintf(&cmds, "rm text%d\nwrite %s text%d\n", i, p, i)
	}
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("added%d", i))
		os.WriteFile(p, compressible(uint64(200+i), 300<<10), 0o644)
		fmt.Fprintf(&cmds, "write %s added%d\n", p, i)
	}
	// A copy of bin5 under a new name: same content, new blocks.
	cp := filepath.Join(dir, "bin5copy")
	os.WriteFile(cp, randomBytes(5, 300<<10+5*333), 0o644)
	fmt.Fprintf(&cmds, "write %s bin5copy\n", cp)
	cmds.WriteString("mkdir moved\nln bin6 moved/bin6\nunlink bin6\nrm bin7\n")
	cf := filepath.Join(dir, "cmds")
	os.WriteFile(cf, []byte(cmds.String()), 0o644)
	if out, err := exec.Command("debugfs", "-w", "-f", cf, nw).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	fsck(t, nw)
	return nw
}

func openImage(t *testing.T, img []byte) *Reader {
	t.Helper()
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func createIncr(t *testing.T, path string, base *Reader, cfg CreateConfig) ([]byte, *Header, IncrementalStats) {
	t.Helper()
	src, err := OpenSource(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	h, _, ist, err := CreateIncremental(context.Background(), src, base, &buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), h, ist
}

// An ext4 upgraded in place: the increment rebuilds it exactly from the
// base, refuses another base and a damaged increment, and is about the
// zstd size of the blocks the base lacks.
func TestIncrementalExt4(t *testing.T) {
	basePath := makeExt4(t)
	newPath := upgradeExt4(t, basePath)
	want, _ := os.ReadFile(newPath)
	cfg := CreateConfig{ChunkSize: 256 << 10}
	bsrc, _ := OpenSource(basePath)
	baseImg, _, _ := createImage(t, bsrc, cfg)
	bsrc.Close()
	nsrc, _ := OpenSource(newPath)
	fullImg, _, fst := createImage(t, nsrc, cfg)
	nsrc.Close()
	base := openImage(t, baseImg)

	incrImg, h, ist := createIncr(t, newPath, base, cfg)
	if h.DeltaBase != base.Header().ID || h.BaseRoot != base.Header().ManifestRoot {
		t.Fatalf("header names base %s %x", h.DeltaBase, h.BaseRoot[:4])
	}
	incr := openImage(t, incrImg)
	// (ext4 puts the copy of bin5 at a 4 KiB boundary: its 16 KiB blocks
	// match the base's only if both start alike; TestIncrementalRelocated
	// makes sure of relocations.)
	if ist.SamePlace == 0 || ist.LiteralBlocks == 0 {
		t.Errorf("want literal and same-place blocks: %+v", ist)
	}
	// The new map is the full image's map (spans aside): same blocks, same hashes.
	if nm, fm := incr.BlockMap(), fst.BlockMap; nm.Len() != fm.Len() || nm.UsedBytes() != fm.UsedBytes() {
		t.Fatalf("increment's map: %d blocks %d bytes, full image's %d %d", nm.Len(), nm.UsedBytes(), fm.Len(), fm.UsedBytes())
	}

	// Figures: the increment against the zstd size of the lacked blocks.
	var lacked []byte
	nm, x := incr.BlockMap(), newBaseIndex(base.BlockMap())
	for i := range nm.Len() {
		if x.find(nm.Hash(i), nm.Block(i)) < 0 {
			for _, r := range nm.Ranges(nil, i) {
				lacked = append(lacked, want[r.Off:r.End()]...)
			}
		}
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	z := len(enc.EncodeAll(lacked, nil))
	ratio := float64(len(incrImg)) / float64(z)
	t.Logf("new used %d B in %d blocks: %d literal (%d B), %d same place, %d relocated; increment %d B (map %d B) = %.3f x the %d B zstd of the lacked blocks; full image %d B (increment %.1f %%)",
		ist.UsedBytes, ist.Blocks, ist.LiteralBlocks, ist.LiteralBytes, ist.SamePlace, ist.Relocated,
		len(incrImg), h.BlockMapLen, ratio, z, len(fullImg), 100*float64(len(incrImg))/float64(len(fullImg)))
	if ratio > 1.1 {
		t.Errorf("increment %.3f x the lacked blocks' zstd size, target 1.1", ratio)
	}

	out := filepath.Join(t.TempDir(), "rebuilt.ext4")
	f, _ := os.Create(out)
	f.Truncate(h.TargetSize)
	st, err := ApplyIncremental(context.Background(), incr, base, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	mustEqual(t, got, want)
	fsck(t, out)
	t.Logf("applied: %d B from the increment, %d B copied from the base, %d B written", st.LiteralBytes, st.CopiedBytes, st.WrittenBytes)
	if _, err := VerifyIncremental(context.Background(), incr, base); err != nil {
		t.Fatal(err)
	}

	t.Run("wrong base", func(t *testing.T) {
		other := openImage(t, fullImg)
		if _, err := VerifyIncremental(context.Background(), incr, other); !errors.Is(err, ErrWrongBase) {
			t.Fatalf("another base: %v, want ErrWrongBase", err)
		}
		if _, err := VerifyIncremental(context.Background(), other, base); !errors.Is(err, ErrWrongBase) {
			t.Fatalf("a full image as increment: %v, want ErrWrongBase", err)
		}
	})
	t.Run("installer refuses", func(t *testing.T) {
		if _, err := NewInstaller(discard(h.TargetSize), h, InstallConfig{}); !errors.Is(err, ErrVersion) {
			t.Fatalf("NewInstaller of an increment: %v", err)
		}
	})
	t.Run("corrupt increment", func(t *testing.T) {
		bad := bytes.Clone(incrImg)
		off, n := incr.ChunkOffset(0)
		bad[off+int64(n)-3] ^= 0x40
		r := openImage(t, bad)
		if _, err := VerifyIncremental(context.Background(), r, base); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged increment: %v, want ErrCorrupt", err)
		}
	})
	t.Run("corrupt base", func(t *testing.T) {
		bad := bytes.Clone(baseImg)
		off, n := base.ChunkOffset(base.NumChunks() / 2)
		bad[off+int64(n)/2] ^= 0x01
		r := openImage(t, bad)
		if _, err := VerifyIncremental(context.Background(), incr, r); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged base: %v, want ErrCorrupt", err)
		}
	})
	t.Run("identical", func(t *testing.T) {
		same, h2, ist2 := createIncr(t, basePath, base, cfg)
		if ist2.LiteralBlocks != 0 || h2.ChunkCount != 1 {
			t.Fatalf("increment of the base itself: %+v, %d chunks", ist2, h2.ChunkCount)
		}
		if _, err := VerifyIncremental(context.Background(), openImage(t, same), base); err != nil {
			t.Fatal(err)
		}
		t.Logf("increment of the base against itself: %d B", len(same))
	})
}

// Blocks moved by multiples of the block size are references into the
// base, not data.
func TestIncrementalRelocated(t *testing.T) {
	old, nw := reversedBlocks(1, 2<<20)
	n := len(old) / (16 << 10)
	dir := t.TempDir()
	base, baseImg, img, ist := relocatedImages(t, dir, old, nw)
	if ist.LiteralBlocks != 1 || ist.Relocated < n-1 {
		t.Fatalf("%+v, want 1 literal block and %d relocated", ist, n-1)
	}
	out := filepath.Join(dir, "rebuilt")
	f, _ := os.Create(out)
	f.Truncate(int64(len(nw)))
	if _, err := ApplyIncremental(context.Background(), openImage(t, img), base, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _ := os.ReadFile(out)
	mustEqual(t, got, nw)
	t.Logf("4 MiB reversed in 16 KiB blocks plus one new block: increment %d B, base %d B", len(img), len(baseImg))
}

// The increment read as the full new disk gives a full image whose block
// map is the increment's, and the new disk's bytes.
func TestIncrementalDisk(t *testing.T) {
	basePath := makeExt4(t)
	newPath := upgradeExt4(t, basePath)
	want, _ := os.ReadFile(newPath)
	bsrc, _ := OpenSource(basePath)
	baseImg, _, _ := createImage(t, bsrc, CreateConfig{})
	bsrc.Close()
	base := openImage(t, baseImg)
	incrImg, _, _ := createIncr(t, newPath, base, CreateConfig{})
	incr := openImage(t, incrImg)
	d, err := NewIncrementalDisk(incr, base)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	full, _, st := createImage(t, d.Source("test"), CreateConfig{Used: d.Used()})
	nm := incr.BlockMap()
	if st.BlockMap.Len() != nm.Len() || st.BlockMap.UsedBytes() != nm.UsedBytes() {
		t.Fatalf("rebuilt image's map: %d blocks, %d bytes; increment's %d, %d", st.BlockMap.Len(), st.BlockMap.UsedBytes(), nm.Len(), nm.UsedBytes())
	}
	for i := range nm.Len() {
		if st.BlockMap.Hash(i) != nm.Hash(i) {
			t.Fatalf("block %d differs", i)
		}
	}
	got := installImage(t, full, InstallConfig{}, nil)
	mustEqual(t, got, want)
}

// reversedBlocks makes a disk of 2×half bytes (random, then compressible; seeds from
// seed) and a new disk of its 16 KiB blocks in reverse order followed by one new block:
// every block but the last is relocated (each relocation half of a 2-cycle).
func reversedBlocks(seed uint64, half int) (old, nw []byte) {
	const bs = 16 << 10
	old = append(randomBytes(seed, half), compressible(seed+1, half)...)
	nw = make([]byte, len(old)+bs)
	n := len(old) / bs
	for k := range n {
		copy(nw[k*bs:], old[(n-1-k)*bs:(n-k)*bs])
	}
	copy(nw[n*bs:], randomBytes(seed+2, bs))
	return old, nw
}

// relocatedImages writes old and nw to files in dir and returns the base image of old
// (opened and encoded) and the increment of nw on it, at the smallest chunk size.
func relocatedImages(t *testing.T, dir string, old, nw []byte) (base *Reader, baseImg, img []byte, ist IncrementalStats) {
	t.Helper()
	bp, np := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	os.WriteFile(bp, old, 0o644)
	os.WriteFile(np, nw, 0o644)
	bsrc, _ := OpenSource(bp)
	baseImg, _, _ = createImage(t, bsrc, CreateConfig{ChunkSize: MinChunkSize})
	bsrc.Close()
	base = openImage(t, baseImg)
	img, _, ist = createIncr(t, np, base, CreateConfig{ChunkSize: MinChunkSize})
	return base, baseImg, img, ist
}
