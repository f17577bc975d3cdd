package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
)

// The end-to-end filesystem-aware test builds a real GPT disk — a FAT32
// EFI system partition, an ext4 and a swap partition, on bytes that were
// random before the filesystems were made (as on a used disk) and holding
// real files — then images it with and without the filesystem readers,
// extracts the image and checks every filesystem and file.
//
// Filesystems are built in files of their own (mkfs with no discard, files
// copied in with mkfs.ext4 -d and mcopy) and copied into the partitions,
// and checked the same way, so the test needs the tools but not root or
// loop devices.

const mib = 1 << 20

type testPart struct {
	name       string
	start, end int64 // bytes
	gptType    string
}

var fsawareParts = []testPart{
	{"esp", 1 * mib, 37 * mib, "ef00"},
	{"root", 37 * mib, 61 * mib, "8300"},
	{"swap", 61 * mib, 65 * mib, "8200"},
}

const fsawareDisk = 66 * mib // leaves room for the backup GPT

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (CI has it): %v", tool, err)
		}
	}
}

func sh(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// randomFile writes size random bytes to path: the "old data" mkfs must
// leave in free space.
func randomFile(t *testing.T, path string, size int64, seed uint64) {
	t.Helper()
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, size)
	rand.NewChaCha8(key).Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileTree writes about total bytes of files (text and random, some empty,
// in a few directories) under dir.
func fileTree(t *testing.T, dir string, total int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	words := []string{"disk ", "image ", "multicast ", "lab ", "boot ", "kernel ", "\n"}
	for i, n := 0, 0; n < total; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", i%5))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		size := rng.IntN(200 << 10)
		if i%11 == 0 {
			size = 0
		}
		b := make([]byte, 0, size)
		if i%2 == 0 {
			for len(b) < size {
				b = append(b, words[rng.IntN(len(words))]...)
			}
			b = b[:size]
		} else {
			b = b[:size]
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.bin", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		n += size
	}
}

// sameTree checks that every file under want has the same content under got.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s: content differs", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no files compared")
	}
}

// copyRegion copies n bytes at off of file src into a new file dst.
func copyRegion(t *testing.T, src, dst string, off, n int64) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b[off:off+n], 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildFSDisk makes the test disk and returns its path and the trees of
// files put in the ESP and the ext4.
func buildFSDisk(t *testing.T, dir string) (disk, espTree, rootTree string) {
	t.Helper()
	mtools := []string{"MTOOLS_SKIP_CHECK=1"}
	espTree = filepath.Join(dir, "esp-files")
	rootTree = filepath.Join(dir, "root-files", "tree")
	fileTree(t, filepath.Join(espTree, "EFI"), 3*mib, 1)
	fileTree(t, rootTree, 6*mib, 2)

	fsFiles := map[string]string{}
	for i, p := range fsawareParts {
		f := filepath.Join(dir, p.name+".fs")
		randomFile(t, f, p.end-p.start, uint64(10+i))
		fsFiles[p.name] = f
	}
	sh(t, nil, "mkfs.vfat", "-F", "32", "-s", "1", "-S", "512", "-n", "ESP", fsFiles["esp"])
	sh(t, mtools, "mcopy", "-s", "-Q", "-i", fsFiles["esp"], filepath.Join(espTree, "EFI"), "::/")
	sh(t, nil, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", filepath.Dir(rootTree), fsFiles["root"])
	sh(t, nil, "mkswap", fsFiles["swap"])

	disk = filepath.Join(dir, "disk.raw")
	randomFile(t, disk, fsawareDisk, 99)
	args := []string{"--zap-all"}
	for i, p := range fsawareParts {
		args = append(args, fmt.Sprintf("--new=%d:%d:%d", i+1, p.start/512, p.end/512-1),
			fmt.Sprintf("--typecode=%d:%s", i+1, p.gptType))
	}
	sh(t, nil, "sgdisk", append(args, disk)...)
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range fsawareParts {
		b, err := os.ReadFile(fsFiles[p.name])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(b, p.start); err != nil {
			t.Fatal(err)
		}
		os.Remove(fsFiles[p.name])
	}
	return disk, espTree, rootTree
}

func TestFilesystemAwareEndToEnd(t *testing.T) {
	needTools(t, "sgdisk", "mkfs.vfat", "mkfs.ext4", "mkswap", "mcopy", "debugfs", "e2fsck", "fsck.vfat")
	dir := t.TempDir()
	disk, espTree, rootTree := buildFSDisk(t, dir)

	aware, raw := filepath.Join(dir, "aware.dsc"), filepath.Join(dir, "raw.dsc")
	if code := run([]string{"create", "--quiet", disk, aware}); code != 0 {
		t.Fatalf("create: exit %d", code)
	}
	if code := run([]string{"create", "--quiet", "--raw", disk, raw}); code != 0 {
		t.Fatalf("create --raw: exit %d", code)
	}
	sa, _ := os.Stat(aware)
	sr, _ := os.Stat(raw)
	t.Logf("%d MiB disk: filesystem-aware image %.1f MiB, raw image %.1f MiB (%.0f%% smaller)",
		fsawareDisk/mib, float64(sa.Size())/mib, float64(sr.Size())/mib, 100*(1-float64(sa.Size())/float64(sr.Size())))
	if sa.Size() > sr.Size()/3 {
		t.Errorf("filesystem-aware image is %d bytes, raw %d: free space was not skipped", sa.Size(), sr.Size())
	}

	// info reads the partitions back from the image alone.
	r, err := image.OpenFile(aware)
	if err != nil {
		t.Fatal(err)
	}
	m, err := diskMap(r, nil)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range m.Partitions {
		got = append(got, fmt.Sprintf("%s%d:%s", p.Scheme, p.Index, p.FS))
		if p.Warning != "" {
			t.Errorf("partition %d: %s", p.Index, p.Warning)
		}
	}
	if s := strings.Join(got, " "); s != "gpt1:vfat gpt2:ext4 gpt3:swap" {
		t.Errorf("partitions read from the image: %s", s)
	}
	if code := run([]string{"info", aware}); code != 0 {
		t.Fatalf("info: exit %d", code)
	}

	out := filepath.Join(dir, "out.raw")
	if code := run([]string{"extract", aware, out}); code != 0 {
		t.Fatalf("extract: exit %d", code)
	}
	os.Remove(aware)
	os.Remove(raw)
	sh(t, nil, "sgdisk", "--verify", out)
	esp, root := filepath.Join(dir, "esp.out"), filepath.Join(dir, "root.out")
	copyRegion(t, out, esp, fsawareParts[0].start, fsawareParts[0].end-fsawareParts[0].start)
	copyRegion(t, out, root, fsawareParts[1].start, fsawareParts[1].end-fsawareParts[1].start)
	swap := make([]byte, 4096)
	if f, err := os.Open(out); err == nil {
		f.ReadAt(swap, fsawareParts[2].start)
		f.Close()
	}
	if string(swap[4086:]) != "SWAPSPACE2" {
		t.Error("swap signature lost")
	}
	os.Remove(out)

	sh(t, nil, "fsck.vfat", "-n", esp)
	sh(t, nil, "e2fsck", "-fn", root)
	espOut, rootOut := filepath.Join(dir, "esp-out"), filepath.Join(dir, "root-out")
	os.Mkdir(espOut, 0o755)
	os.Mkdir(rootOut, 0o755)
	sh(t, []string{"MTOOLS_SKIP_CHECK=1"}, "mcopy", "-s", "-n", "-i", esp, "::/EFI", espOut)
	sh(t, nil, "debugfs", "-R", "rdump /tree "+rootOut, root)
	sameTree(t, filepath.Join(espTree, "EFI"), filepath.Join(espOut, "EFI"))
	sameTree(t, rootTree, filepath.Join(rootOut, "tree"))
}
