package image

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeExt4 builds a 64 MiB ext4 filesystem image from a real directory
// tree (part of /usr/share/doc plus generated files) with mkfs.ext4 -d.
func makeExt4(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not installed (e2fsprogs)")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	var copied int64
	filepath.WalkDir("/usr/share/doc", func(p string, d fs.DirEntry, err error) error {
		if err != nil || copied > 8<<20 {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err == nil {
				dst := filepath.Join(tree, "doc", strings.TrimPrefix(p, "/usr/share/doc/"))
				os.MkdirAll(filepath.Dir(dst), 0o755)
				os.WriteFile(dst, b, 0o644)
				copied += int64(len(b))
			}
		}
		return nil
	})
	for i := range 8 {
		os.WriteFile(filepath.Join(tree, fmt.Sprintf("text%d", i)), compressible(uint64(i), 700<<10+i*1000), 0o644)
		os.WriteFile(filepath.Join(tree, fmt.Sprintf("bin%d", i)), randomBytes(uint64(i), 300<<10+i*333), 0o644)
	}
	img := filepath.Join(dir, "fs.ext4")
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, img, "64M").CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return img
}

func fsck(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("e2fsck", "-fn", path).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", path, err, out)
	}
}

// A real ext4 filesystem round trip, onto a file and onto loop devices.
func TestExt4(t *testing.T) {
	fsPath := makeExt4(t)
	want, _ := os.ReadFile(fsPath)
	src, err := OpenSource(fsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	img, h, _ := createImage(t, src, CreateConfig{ChunkSize: 256 << 10})
	t.Logf("ext4 64 MiB: %d chunks, stored %d, zero %d, unused %d", h.ChunkCount, h.StoredBytes, h.ZeroBytes, h.UnusedBytes)
	t.Run("file", func(t *testing.T) {
		got := installImage(t, img, InstallConfig{}, func(v []int) {
			for i, j := 0, len(v)-1; i < j; i, j = i+1, j-1 {
				v[i], v[j] = v[j], v[i]
			}
		})
		mustEqual(t, got, want)
		out := filepath.Join(t.TempDir(), "installed.ext4")
		os.WriteFile(out, got, 0o644)
		fsck(t, out)
	})
	t.Run("loop", func(t *testing.T) { testLoopDevice(t, img, h, want) })
}

// testLoopDevice installs onto a real loop block device whose old contents
// are garbage: gaps must be zeroed (GapZero) or discarded (BLKZEROOUT) for
// the result to match byte for byte.
func testLoopDevice(t *testing.T, img []byte, h *Header, want []byte) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	for _, gaps := range []GapMode{GapZero, GapDiscard} {
		t.Run(gaps.String(), func(t *testing.T) {
			backing := filepath.Join(t.TempDir(), "disk")
			os.WriteFile(backing, bytes.Repeat([]byte{0xA5}, len(want)), 0o644)
			out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
			if err != nil {
				t.Skipf("losetup: %v %s", err, out)
			}
			dev := strings.TrimSpace(string(out))
			defer exec.Command("losetup", "-d", dev).Run()
			f, err := os.OpenFile(dev, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			in, err := NewInstaller(f, h, InstallConfig{Gaps: gaps})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := Open(bytes.NewReader(img), int64(len(img)))
			for i := range r.NumChunks() {
				c, _ := r.Chunk(i)
				if err := in.Put(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(want))
			if _, err := f.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			mustEqual(t, got, want)
			fsck(t, dev)
			// The device as a source: size from BLKGETSIZE64, and the image
			// made from it installs to the same bytes.
			src, err := OpenSource(dev)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Size() != int64(len(want)) {
				t.Fatalf("block device source size %d, want %d", src.Size(), len(want))
			}
			img2, _, _ := createImage(t, src, CreateConfig{})
			mustEqual(t, installImage(t, img2, InstallConfig{}, nil), want)
		})
	}
	// A loop device smaller than the image is refused before any write.
	t.Run("too-small", func(t *testing.T) {
		backing := filepath.Join(t.TempDir(), "small")
		orig := bytes.Repeat([]byte{0x5A}, 1<<20)
		os.WriteFile(backing, orig, 0o644)
		out, err := exec.Command("losetup", "-f", "--show", backing).CombinedOutput()
		if err != nil {
			t.Skipf("losetup: %v %s", err, out)
		}
		dev := strings.TrimSpace(string(out))
		defer exec.Command("losetup", "-d", dev).Run()
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := NewInstaller(f, h, InstallConfig{}); err == nil || !strings.Contains(err.Error(), dev) {
			t.Fatalf("small device: %v", err)
		}
		f.Close()
		exec.Command("losetup", "-d", dev).Run()
		if b, _ := os.ReadFile(backing); !bytes.Equal(b, orig) {
			t.Fatal("refused device was written")
		}
	})
}
