package fsmap

// Shared test helpers for every filesystem's tests: random backing files
// (a used disk is full of old bytes, not zeros), external tools that skip
// when missing, loop mounts, generated file trees and the "scrub" copy that
// re-randomises every byte a map says is free.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
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
	// ChaCha8 fills whole buffers at once: byte loops are slow under -race.
	var seed [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(seed[8*i:], rng.Uint64())
	}
	rand.NewChaCha8(seed).Read(b)
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

// loopMountRO attaches img (from byte off) to a loop device and mounts it
// read-only, for checking a scrubbed copy without letting the kernel touch it;
// both are undone when the test ends. Writing mounts belong in a private mount
// namespace (see TestExt4KernelWritten).
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

// copyInto writes the whole file src into disk at byte off.
func copyInto(t testing.TB, disk string, off int64, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// testPart is a partition for the hand-built tables below, in sectors.
type testPart struct {
	first, count int64
	typ          string // GPT type GUID, or MBR type in hex ("83")
}

// gptGUIDBytes encodes a GUID string in GPT's mixed-endian layout.
func gptGUIDBytes(s string) []byte {
	h := strings.ReplaceAll(s, "-", "")
	raw := make([]byte, 16)
	for i := range raw {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		raw[i] = byte(v)
	}
	out := append([]byte(nil), raw...)
	for _, f := range [][2]int{{0, 4}, {4, 2}, {6, 2}} {
		for i := range f[1] {
			out[f[0]+i] = raw[f[0]+f[1]-1-i]
		}
	}
	return out
}

// buildGPT returns the protective MBR, primary and backup GPT of a disk
// of size bytes with sector size ss, as (offset, bytes) writes: it exists
// because no tool here writes 4096-byte-sector GPTs onto a plain file.
func buildGPT(size, ss int64, parts []testPart) map[int64][]byte {
	le := binary.LittleEndian
	lastLBA := size/ss - 1
	mbr := make([]byte, 512)
	e := mbr[446:]
	e[4] = 0xee
	le.PutUint32(e[8:], 1)
	le.PutUint32(e[12:], uint32(min(lastLBA, 0xffffffff)))
	mbr[510], mbr[511] = 0x55, 0xaa
	const count, esize = 128, 128
	array := make([]byte, count*esize)
	for i, p := range parts {
		en := array[i*esize:]
		copy(en, gptGUIDBytes(p.typ))
		copy(en[16:], gptGUIDBytes("01234567-89AB-CDEF-0123-456789ABCD"+strconv.Itoa(10+i)))
		le.PutUint64(en[32:], uint64(p.first))
		le.PutUint64(en[40:], uint64(p.first+p.count-1))
	}
	arraySectors := int64(len(array)) / ss
	if arraySectors == 0 {
		arraySectors = 1
	}
	header := func(my, alt, arrayLBA int64) []byte {
		h := make([]byte, ss)
		copy(h, "EFI PART")
		le.PutUint32(h[8:], 0x00010000)
		le.PutUint32(h[12:], 92)
		le.PutUint64(h[24:], uint64(my))
		le.PutUint64(h[32:], uint64(alt))
		le.PutUint64(h[40:], uint64(2+arraySectors))
		le.PutUint64(h[48:], uint64(lastLBA-1-arraySectors))
		copy(h[56:], gptGUIDBytes("DEADBEEF-0000-1111-2222-333344445555"))
		le.PutUint64(h[72:], uint64(arrayLBA))
		le.PutUint32(h[80:], count)
		le.PutUint32(h[84:], esize)
		le.PutUint32(h[88:], crc32.ChecksumIEEE(array))
		le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}
	return map[int64][]byte{
		0:                             mbr,
		ss:                            header(1, lastLBA, 2),
		2 * ss:                        array,
		(lastLBA - arraySectors) * ss: array,
		lastLBA * ss:                  header(lastLBA, 1, lastLBA-arraySectors),
	}
}

// writeAt applies (offset, bytes) writes to a file.
func writeAt(t testing.TB, path string, writes map[int64][]byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for off, b := range writes {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

// makeFS makes a filesystem of kind ("ext4", "ext2", "vfat32", "vfat16",
// "swap") on a new random file of size bytes, filled with a generated
// tree when the kind holds files; it returns the image and the tree ("" for
// swap).
func makeFS(t testing.TB, kind string, size int64, seed uint64) (img, src string) {
	t.Helper()
	img = newRandomFile(t, size)
	if kind == "swap" {
		run(t, "mkswap", img)
		return img, ""
	}
	src = t.TempDir()
	writeTree(t, src, seed, 60, 32<<10)
	switch kind {
	case "ext4", "ext2":
		run(t, "mkfs."+kind, "-q", "-F", "-E", "nodiscard", "-d", src, img)
	case "vfat32", "vfat16":
		run(t, "mkfs.vfat", "-F", kind[4:], img)
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"-s", "-i", img}
		for _, e := range entries {
			args = append(args, filepath.Join(src, e.Name()))
		}
		run(t, "mcopy", append(args, "::/")...)
	default:
		t.Fatalf("makeFS: unknown kind %s", kind)
	}
	return img, src
}

// verifyPart checks the filesystem of partition p inside the scrubbed disk
// image against the tree it was made from.
func verifyPart(t testing.TB, disk string, p Partition, src string) {
	t.Helper()
	part := filepath.Join(t.TempDir(), "part.img")
	run(t, "dd", "if="+disk, "of="+part, "bs=65536", "iflag=skip_bytes,count_bytes",
		"skip="+itoa(p.Start), "count="+itoa(p.Size), "status=none")
	dst := t.TempDir()
	switch p.FS {
	case "ext2", "ext3", "ext4":
		if out, err := runStatus(t, "e2fsck", "-fn", part); err != nil {
			t.Fatalf("partition %d: e2fsck: %v\n%s", p.Index, err, out)
		}
		run(t, "debugfs", "-R", "rdump / "+dst, part)
	case "vfat":
		if out, err := runStatus(t, "fsck.vfat", "-n", part); err != nil {
			t.Fatalf("partition %d: fsck.vfat: %v\n%s", p.Index, err, out)
		}
		run(t, "mcopy", "-s", "-n", "-i", part, "::*", dst+"/")
	case "swap":
		run(t, "swaplabel", part)
		return
	default:
		t.Fatalf("partition %d: no check for %q", p.Index, p.FS)
	}
	compareTrees(t, src, dst)
}
