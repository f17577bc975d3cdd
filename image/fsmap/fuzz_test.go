package fsmap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/image"
)

// Fuzzing: a fuzz input is a sparse disk image, a list of patches
// (offset u32, length u16, bytes) over zeros, plus the size it claims. Seeds
// are real images cut down to the bytes a reader actually reads, which keeps
// the corpus small and lets mutations land on metadata.

const fuzzMaxSize = 64 << 20 // bounds the work a mutated size can cause

type fuzzPatch struct {
	off  int64
	data []byte
}

type fuzzDisk struct {
	patches []fuzzPatch
	size    int64
}

func newFuzzDisk(data []byte, size int64) fuzzDisk {
	d := fuzzDisk{size: min(max(size, -size, 0), fuzzMaxSize)}
	for len(data) >= 6 {
		off := int64(binary.LittleEndian.Uint32(data))
		n := int(binary.LittleEndian.Uint16(data[4:]))
		data = data[6:]
		n = min(n, len(data))
		d.patches = append(d.patches, fuzzPatch{off, data[:n]})
		data = data[n:]
	}
	return d
}

func (d fuzzDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, os.ErrInvalid
	}
	if off >= d.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), d.size-off))
	clear(p[:n])
	for _, pt := range d.patches {
		lo, hi := max(pt.off, off), min(pt.off+int64(len(pt.data)), off+int64(n))
		if hi > lo {
			copy(p[lo-off:hi-off], pt.data[lo-pt.off:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fuzzSeed is a seed: its encoded patches and its real size.
type fuzzSeed struct {
	data []byte
	size int64
}

// recordSeed runs fn over img and encodes the non-zero bytes it read.
func recordSeed(img []byte, fn func(io.ReaderAt, int64)) fuzzSeed {
	rec := &readRecorder{r: bytes.NewReader(img)}
	fn(rec, int64(len(img)))
	read := make([]bool, len(img))
	for _, r := range rec.reads {
		for i := max(r.Off, 0); i < min(r.End(), int64(len(img))); i++ {
			read[i] = true
		}
	}
	var out []byte
	for i := 0; i < len(img); {
		if !read[i] || img[i] == 0 {
			i++
			continue
		}
		j := i
		for zeros := 0; j < len(img) && read[j] && zeros < 8 && j-i < 65535; j++ {
			if img[j] == 0 {
				zeros++
			} else {
				zeros = 0
			}
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(i))
		out = binary.LittleEndian.AppendUint16(out, uint16(j-i))
		out = append(out, img[i:j]...)
		i = j
	}
	return fuzzSeed{out, int64(len(img))}
}

type readRecorder struct {
	r     io.ReaderAt
	reads []image.Range
}

func (rr *readRecorder) ReadAt(p []byte, off int64) (int, error) {
	rr.reads = append(rr.reads, image.Range{Off: off, Len: int64(len(p))})
	return rr.r.ReadAt(p, off)
}

// mkfsImage makes a filesystem on a zeroed file and returns its bytes, or
// nil when the tool is missing.
func mkfsImage(t testing.TB, size int64, mkfs string, args ...string) []byte {
	if _, err := exec.LookPath(mkfs); err != nil {
		return nil
	}
	img := filepath.Join(t.TempDir(), "seed.img")
	if err := os.WriteFile(img, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, mkfs, append(args, img)...)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// extFuzzSeeds makes small real ext filesystems.
func extFuzzSeeds(t testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	for _, c := range []struct {
		mkfs string
		size int64
		args []string
	}{
		{"mkfs.ext4", 4 << 20, []string{"-b", "1024", "-N", "16", "-I", "128", "-J", "size=1"}},
		{"mkfs.ext4", 1 << 20, []string{"-b", "4096", "-N", "16", "-O", "^has_journal,^resize_inode,64bit"}},
		{"mkfs.ext4", 2 << 20, []string{"-b", "1024", "-N", "32", "-O", "meta_bg,^resize_inode,^has_journal", "-g", "256"}},
		{"mkfs.ext4", 4 << 20, []string{"-O", "bigalloc,^has_journal", "-C", "16384", "-N", "16"}},
		{"mkfs.ext3", 4 << 20, []string{"-b", "1024", "-N", "16", "-I", "128", "-J", "size=1"}},
		{"mkfs.ext2", 512 << 10, []string{"-b", "1024", "-N", "16", "-I", "128"}},
	} {
		b := mkfsImage(t, c.size, c.mkfs, append([]string{"-q", "-F"}, c.args...)...)
		if b == nil {
			continue
		}
		seeds = append(seeds, recordSeed(b, func(r io.ReaderAt, size int64) {
			if _, err := extUsed(r, size); err != nil {
				t.Fatalf("seed %v rejected: %v", c.args, err)
			}
		}))
	}
	return seeds
}

// checkRanges fails on ranges a reader must never return.
func checkRanges(t *testing.T, rs []image.Range, size int64) {
	for _, r := range rs {
		if r.Off < 0 || r.Len <= 0 || r.End() > size || r.End() < r.Off {
			t.Fatalf("bad range %+v for size %d", r, size)
		}
	}
}

func FuzzExt(f *testing.F) {
	for _, s := range extFuzzSeeds(f) {
		f.Add(s.data, s.size)
	}
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		d := newFuzzDisk(data, size)
		for _, v := range []int{2, 3, 4} {
			extProbeVersion(v)(d, d.size)
		}
		rs, err := extUsed(d, d.size)
		if err == nil {
			checkRanges(t, rs, d.size)
		}
	})
}

func FuzzSwap(f *testing.F) {
	page := make([]byte, 4096)
	copy(page[4086:], "SWAPSPACE2")
	f.Add(page, int64(1<<20))
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		d := newFuzzDisk(data, size)
		if swapProbe(d, d.size) {
			rs, err := swapUsed(d, d.size)
			if err != nil {
				t.Fatal(err)
			}
			checkRanges(t, rs, d.size)
		}
	})
}

// FuzzScan drives the whole dispatcher: partition tables (MBR, EBR
// chains, GPT) and every registered reader behind them.
func FuzzScan(f *testing.F) {
	for _, s := range scanFuzzSeeds(f) {
		f.Add(s.data, s.size)
	}
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		d := newFuzzDisk(data, size)
		m, err := Scan(d, d.size, nil)
		if err != nil {
			return
		}
		checkMap(t, m)
		for _, p := range m.Partitions {
			if p.Used < 0 || p.Used > p.Size {
				t.Fatalf("partition %+v", p)
			}
		}
		// Gaps are skipped space: never kept, never in a partition, and
		// never sector 0.
		for _, g := range m.Gaps {
			if g.Off < mbrSectorSize || g.End() > m.Size || g.Len <= 0 {
				t.Fatalf("gap %+v on a %d-byte disk", g, m.Size)
			}
			for _, u := range m.Used {
				if u.Off < g.End() && g.Off < u.End() {
					t.Fatalf("gap %+v overlaps kept %+v", g, u)
				}
			}
			for _, p := range m.Partitions {
				if p.Size > 0 && p.Start < g.End() && g.Off < p.Start+p.Size {
					t.Fatalf("gap %+v inside partition %+v", g, p)
				}
			}
		}
	})
}

// scanFuzzSeeds are whole disks: GPT with both sector sizes and an MBR
// with an extended partition, holding a small ext2 and a swap area.
func scanFuzzSeeds(t testing.TB) []fuzzSeed {
	ext2 := mkfsImage(t, 512<<10, "mkfs.ext2", "-q", "-F", "-b", "1024", "-N", "16", "-I", "128")
	swap := mkfsImage(t, 256<<10, "mkswap")
	scan := func(r io.ReaderAt, size int64) { Scan(r, size, nil) }
	var seeds []fuzzSeed
	for _, ss := range []int64{512, 4096} {
		size := int64(4 << 20)
		disk := make([]byte, size)
		for off, x := range buildGPT(size, ss, []testPart{
			{first: 1 << 20 / ss, count: 512 << 10 / ss, typ: guidLinux},
			{first: 2 << 20 / ss, count: 256 << 10 / ss, typ: guidSwap},
		}) {
			copy(disk[off:], x)
		}
		copy(disk[1<<20:], ext2)
		copy(disk[2<<20:], swap)
		seeds = append(seeds, recordSeed(disk, scan))
	}
	disk := make([]byte, 4<<20)
	copy(disk, mbrSector([3]uint32{0x83, 2048, 1024}, [3]uint32{0x05, 4096, 2048}))
	copy(disk[4096*512:], mbrSector([3]uint32{0x83, 1, 1024}, [3]uint32{0x05, 1040, 600}))
	copy(disk[(4096+1040)*512:], mbrSector([3]uint32{0x82, 1, 512}))
	copy(disk[2048*512:], ext2)
	copy(disk[4097*512:], ext2)
	copy(disk[(4096+1041)*512:], swap)
	seeds = append(seeds, recordSeed(disk, scan))
	return seeds
}

// TestWriteFuzzCorpus regenerates testdata/fuzz seeds (as files, so plain
// `go test` replays them without mkfs) when DISCUS_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("DISCUS_WRITE_CORPUS") != "1" {
		t.Skip("set DISCUS_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	write := func(name string, seeds []fuzzSeed) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nint64(%d)\n", s.data, s.size)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzExt", extFuzzSeeds(t))
	scan := scanFuzzSeeds(t)
	write("FuzzScan", scan)
	write("FuzzGPT", scan[:2])
	write("FuzzMBR", scan[2:])
}

// TestFuzzSeedsFaithful makes sure the cut-down seeds still parse as the
// real images did, so fuzzing starts from valid metadata.
func TestFuzzSeedsFaithful(t *testing.T) {
	for i, s := range extFuzzSeeds(t) {
		if _, err := extUsed(newFuzzDisk(s.data, s.size), s.size); err != nil {
			t.Errorf("ext seed %d: %v", i, err)
		}
	}
	for i, s := range scanFuzzSeeds(t) {
		m, err := Scan(newFuzzDisk(s.data, s.size), s.size, nil)
		if err != nil || len(m.Partitions) != 2 && len(m.Partitions) != 3 {
			t.Fatalf("scan seed %d: %v %+v", i, err, m)
		}
		for _, p := range m.Partitions {
			if p.FS != "ext2" && p.FS != "swap" || p.Warning != "" {
				t.Errorf("scan seed %d: partition %+v", i, p)
			}
		}
	}
}

// FuzzGPT and FuzzMBR hit the table parsers directly, without the readers
// behind them, so mutations reach deep into headers and EBR chains fast.
func FuzzGPT(f *testing.F) {
	for _, s := range scanFuzzSeeds(f)[:2] {
		f.Add(s.data, s.size)
	}
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		d := newFuzzDisk(data, size)
		parts, tables, ok, err := gptScan(d, d.size, slog.New(slog.DiscardHandler))
		if err != nil || !ok {
			return
		}
		if len(parts) > gptMaxArrayBytes/128 {
			t.Fatalf("%d partitions", len(parts))
		}
		for _, r := range tables {
			if r.Off < 0 || r.Len <= 0 || r.End() > d.size {
				t.Fatalf("table range %+v outside a %d-byte disk", r, d.size)
			}
		}
	})
}

func FuzzMBR(f *testing.F) {
	for _, s := range scanFuzzSeeds(f)[2:] {
		f.Add(s.data, s.size)
	}
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		d := newFuzzDisk(data, size)
		parts, _, _ := mbrPartitions(d, d.size, slog.New(slog.DiscardHandler))
		if len(parts) > 4+mbrMaxLogical {
			t.Fatalf("%d partitions", len(parts))
		}
	})
}
