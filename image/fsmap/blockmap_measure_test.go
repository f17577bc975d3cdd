package fsmap

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
	"github.com/klauspost/compress/zstd"
)

// TestMeasureBlockSizes measures the block map at 4, 16 and 64 KiB on a
// real filesystem upgraded in place: an ext4 image of a real tree (part of
// the Go toolchain), then mounted and changed as an upgrade changes a
// system (files rewritten, files added, files removed). It prints map size,
// the share of the new image's used bytes the base already holds (same
// place, anywhere) and the zstd size of the blocks it lacks. It needs root
// (loop mount) and DISCUS_MEASURE=1; bench/RESULTS.md has the figures.
func TestMeasureBlockSizes(t *testing.T) {
	if os.Getenv("DISCUS_MEASURE") == "" {
		t.Skip("set DISCUS_MEASURE=1 (needs root, mkfs.ext4, a few hundred MB of /tmp)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for the loop mount")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	var copied int64
	root := os.Getenv("DISCUS_MEASURE_TREE")
	if root == "" {
		root = "/usr/local/go/src"
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || copied > 200<<20 {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				dst := filepath.Join(tree, strings.TrimPrefix(p, root))
				os.MkdirAll(filepath.Dir(dst), 0o755)
				os.WriteFile(dst, b, 0o644)
				copied += int64(len(b))
			}
		}
		return nil
	})
	base := filepath.Join(dir, "base.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, base, "512M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	newer := filepath.Join(dir, "new.ext4")
	if out, err := exec.Command("cp", "--sparse=always", base, newer).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	mnt := filepath.Join(dir, "mnt")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-o", "loop", newer, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount -o loop: %v %s", err, out)
	}
	// The upgrade: every 20th file rewritten with a changed version (a byte
	// per 4 KiB changed, 10 % appended), every 50th removed, 20 MB of new files.
	n := 0
	filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		n++
		switch {
		case n%50 == 0:
			os.Remove(p)
		case n%20 == 0:
			b, _ := os.ReadFile(p)
			for i := 0; i < len(b); i += 4096 {
				b[i] ^= 0x5a
			}
			b = append(b, b[:len(b)/10]...)
			os.Remove(p) // a package manager writes a new file and renames it
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	os.MkdirAll(filepath.Join(mnt, "added"), 0o755)
	for i := range 40 {
		os.WriteFile(filepath.Join(mnt, "added", fmt.Sprintf("f%d", i)), measureText(uint64(100+i), 500<<10), 0o644)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	if out, err := exec.Command("sh", "-c", "cmp -l "+base+" "+newer+" | wc -l").Output(); len(out) > 0 {
		_ = err
		t.Logf("bytes differing between base and new: %s", strings.TrimSpace(string(out)))
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	defer enc.Close()
	t.Logf("tree %d MB; upgrade: %d files seen", copied>>20, n)
	t.Logf("%6s %10s %10s %12s %10s %10s %12s %12s", "block", "new used", "map bytes", "image bytes", "same-place", "anywhere", "lacked", "lacked zstd")
	for _, bs := range []int{4 << 10, 16 << 10, 64 << 10} {
		scan := func(path string) (*image.Source, []image.Range) {
			src, err := image.OpenSource(path)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := os.Open(path)
			defer f.Close()
			m, err := Scan(f, src.Size(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return src, m.Used
		}
		var baseImg []byte
		bm := func(path string) (*image.BlockMap, *image.Header) {
			src, err := image.OpenSource(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			f, _ := os.Open(path)
			defer f.Close()
			m, err := Scan(f, src.Size(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			h, st, err := image.Create(context.Background(), src, &buf, image.CreateConfig{BlockSize: bs, Used: m.Used})
			if err != nil {
				t.Fatal(err)
			}
			if path == base {
				baseImg = buf.Bytes()
			}
			return st.BlockMap, h
		}
		bb, _ := bm(base)
		nb, nh := bm(newer)
		at := map[int64][32]byte{}
		any := map[[32]byte]bool{}
		for i := range bb.Len() {
			at[bb.Block(i)] = bb.Hash(i)
			any[bb.Hash(i)] = true
		}
		data, _ := os.ReadFile(newer)
		var same, anywhere, lacked int64
		var lackedBytes []byte
		for i := range nb.Len() {
			var used int64
			rs := nb.Ranges(nil, i)
			for _, r := range rs {
				used += r.Len
			}
			switch {
			case at[nb.Block(i)] == nb.Hash(i):
				same += used
				anywhere += used
			case any[nb.Hash(i)]:
				anywhere += used
			default:
				lacked += used
				for _, r := range rs {
					lackedBytes = append(lackedBytes, data[r.Off:r.End()]...)
				}
			}
		}
		z := enc.EncodeAll(lackedBytes, nil)
		u := nb.UsedBytes()
		t.Logf("%5dK %10d %10d %12d %9.1f%% %9.1f%% %12d %12d", bs>>10, u, mapLen(nb), nh.StoredBytes,
			100*float64(same)/float64(u), 100*float64(anywhere)/float64(u), lacked, len(z))
		// The incremental image of the upgrade against the base image.
		br, err := image.Open(bytes.NewReader(baseImg), int64(len(baseImg)))
		if err != nil {
			t.Fatal(err)
		}
		src, used := scan(newer)
		var inc bytes.Buffer
		ih, _, _, err := image.CreateIncremental(context.Background(), src, br, &inc, image.CreateConfig{BlockSize: bs, Used: used})
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%5dK increment %d B (map %d B) = %.3f x the lacked blocks' zstd, %.1f %% of the full image", bs>>10,
			inc.Len(), ih.BlockMapLen, float64(inc.Len())/float64(len(z)), 100*float64(inc.Len())/float64(nh.StoredBytes))
	}
}

func mapLen(m *image.BlockMap) int { b, _ := m.MarshalBinary(); return len(b) }

// measureText is compressible text-like data.
func measureText(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"the ", "disk ", "image ", "block ", "upgrade ", "package ", "config\n", "lib ", "0x1f ", "ok "}
	var b []byte
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
	}
	return b[:n]
}
