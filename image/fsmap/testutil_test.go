package fsmap

// Shared test helpers for every filesystem's tests: random backing files
// (a used disk is full of old bytes, not zeros), external tools that skip
// when missing, loop mounts, generated file trees and the "scrub" copy that
// re-randomises every byte a map says is free.

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
)

// newRandomFile returns the path of a file of size random bytes in
// t.TempDir(), standing in for a disk whose free space holds old data.
func newRandomFile(t testing.TB, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(size), 0x5eed))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		fillRandom(rng, buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
}

// needTool skips the test when an external program is not installed.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
}

// needRoot skips the test when not running as root (loop devices, mounts).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mounts")
	}
}

// run runs a tool, skipping the test if it is missing and failing it (with
// the tool's output) if it exits non-zero. It returns the combined output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runStatus(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runStatus is run without the failure: for checkers whose exit status the
// caller wants to judge itself (fsck codes).
func runStatus(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	needTool(t, name)
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// loopMount attaches img (from byte off) to a loop device and mounts it
// read-write at a new directory; cleanup unmounts and detaches. It skips
// when not root or when the kernel refuses the mount (no module).
func loopMount(t testing.TB, img string, off int64, fstype string) (dir string) {
	t.Helper()
	return loopMountOpts(t, img, off, fstype, "")
}

// loopMountRO is loopMount read-only, for checking a scrubbed copy without
// letting the kernel touch it.
func loopMountRO(t testing.TB, img string, off int64, fstype string) (dir string) {
	t.Helper()
	return loopMountOpts(t, img, off, fstype, "ro")
}

func loopMountOpts(t testing.TB, img string, off int64, fstype, opts string) string {
	t.Helper()
	needRoot(t)
	needTool(t, "losetup")
	needTool(t, "mount")
	args := []string{"--find", "--show", "-o", itoa(off)}
	if opts == "ro" {
		args = append(args, "--read-only")
	}
	out, err := runStatus(t, "losetup", append(args, img)...)
	if err != nil {
		t.Skipf("losetup failed (no loop devices?): %v\n%s", err, out)
	}
	dev := strings.TrimSpace(out)
	dir := t.TempDir()
	margs := []string{"-t", fstype}
	if opts != "" {
		margs = append(margs, "-o", opts)
	}
	if out, err := runStatus(t, "mount", append(margs, dev, dir)...); err != nil {
		runStatus(t, "losetup", "-d", dev)
		t.Skipf("cannot mount %s (%s): %v\n%s", fstype, dev, err, out)
	}
	t.Cleanup(func() {
		if out, err := runStatus(t, "umount", dir); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
		runStatus(t, "losetup", "-d", dev)
	})
	return dir
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// writeTree fills dir with a generated tree of files (nested directories,
// empty files, small and multi-block files of random content) and returns
// their total size. The same seed gives the same tree.
func writeTree(t testing.TB, dir string, seed uint64, files int, maxSize int) int64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x7ee))
	var total int64
	for i := range files {
		sub := filepath.Join(dir, "d"+itoa(int64(i%7)), "e"+itoa(int64(i%3)))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		n := 0
		switch i % 5 {
		case 0:
			n = 0
		case 1:
			n = rng.IntN(100)
		default:
			n = rng.IntN(maxSize + 1)
		}
		b := make([]byte, n)
		fillRandom(rng, b)
		if err := os.WriteFile(filepath.Join(sub, "f"+itoa(int64(i))+".bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += int64(n)
	}
	return total
}

// treeFiles maps each regular file's slash path under dir to its content.
func treeFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// compareTrees fails the test unless every regular file under want exists
// under got with the same content. Extra files in got (lost+found,
// filesystem specials) are allowed.
func compareTrees(t testing.TB, want, got string) {
	t.Helper()
	w, g := treeFiles(t, want), treeFiles(t, got)
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	bad := 0
	for _, n := range names {
		gb, ok := g[n]
		switch {
		case !ok:
			t.Errorf("file %s missing", n)
			bad++
		case !bytes.Equal(w[n], gb):
			t.Errorf("file %s differs (%d vs %d bytes)", n, len(w[n]), len(gb))
			bad++
		}
		if bad > 10 {
			t.Fatal("too many differences")
		}
	}
	if len(names) == 0 {
		t.Fatal("compareTrees: no files in reference tree")
	}
}

// scrubbed copies img to a new file in which every byte outside used is
// replaced by fresh random bytes (different from the original's), which
// proves that dropping them loses nothing. used must be sorted.
func scrubbed(t testing.TB, img string, used []image.Range) string {
	t.Helper()
	src, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(0xdead, uint64(len(src))))
	var pos int64
	for _, r := range append(append([]image.Range(nil), used...), image.Range{Off: int64(len(src))}) {
		if r.Off > pos {
			fillRandom(rng, src[pos:min(r.Off, int64(len(src)))])
		}
		pos = max(pos, r.End())
		if pos >= int64(len(src)) {
			break
		}
	}
	path := filepath.Join(t.TempDir(), "scrubbed.img")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// scanFile runs Scan over a file and checks the map's basic invariants:
// ranges sorted, merged, inside the disk, UsedBytes consistent.
func scanFile(t testing.TB, img string) *Map {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Scan(f, st.Size(), nil)
	if err != nil {
		t.Fatalf("Scan(%s): %v", img, err)
	}
	checkMap(t, m)
	t.Logf("%s: %d of %d bytes used (%.1f%%)", filepath.Base(img), m.UsedBytes(), m.Size,
		100*float64(m.UsedBytes())/float64(max(m.Size, 1)))
	return m
}

func checkMap(t testing.TB, m *Map) {
	t.Helper()
	var sum, end int64
	for i, r := range m.Used {
		if r.Len <= 0 || r.Off < 0 || r.End() > m.Size {
			t.Fatalf("range %d %+v bad for size %d", i, r, m.Size)
		}
		if i > 0 && r.Off <= end {
			t.Fatalf("range %d %+v not sorted/merged after end %d", i, r, end)
		}
		end = r.End()
		sum += r.Len
	}
	if sum != m.UsedBytes() {
		t.Fatalf("UsedBytes %d, ranges sum %d", m.UsedBytes(), sum)
	}
}
