package fsmap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/image"
)

func TestScanUnknownDiskAllUsed(t *testing.T) {
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(i * 7)
	}
	m, err := Scan(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m)
	if m.UsedBytes() != int64(len(b)) || len(m.Partitions) != 1 || m.Partitions[0].Scheme != "none" {
		t.Fatalf("unknown disk: %+v", m)
	}
}

func TestScanEmptyAndNegative(t *testing.T) {
	m, err := Scan(bytes.NewReader(nil), 0, nil)
	if err != nil || m.UsedBytes() != 0 {
		t.Fatalf("empty: %v %+v", err, m)
	}
	if _, err := Scan(bytes.NewReader(nil), -1, nil); err != ErrBadSize {
		t.Fatalf("negative size: %v", err)
	}
}

func TestNormalizeComplement(t *testing.T) {
	rs := normalize([]image.Range{{Off: 10, Len: 5}, {Off: 0, Len: 3}, {Off: 3, Len: 2}, {Off: 12, Len: 10}, {Off: 40, Len: 0}})
	want := []image.Range{{Off: 0, Len: 5}, {Off: 10, Len: 12}}
	if len(rs) != len(want) || rs[0] != want[0] || rs[1] != want[1] {
		t.Fatalf("normalize: %v", rs)
	}
	c := complement(rs, 30)
	wantC := []image.Range{{Off: 5, Len: 5}, {Off: 22, Len: 8}}
	if len(c) != 2 || c[0] != wantC[0] || c[1] != wantC[1] {
		t.Fatalf("complement: %v", c)
	}
	if cl := clip([]image.Range{{Off: 0, Len: 10}, {Off: 20, Len: 10}}, image.Range{Off: 5, Len: 20}); len(cl) != 2 || cl[0] != (image.Range{Off: 5, Len: 5}) || cl[1] != (image.Range{Off: 20, Len: 5}) {
		t.Fatalf("clip: %v", cl)
	}
}

// TestScanAmbiguousKeepsUnion: an ext2 filesystem that also carries a swap
// signature is both; the map must hold each reader's ranges.
func TestScanAmbiguousKeepsUnion(t *testing.T) {
	needTool(t, "mkfs.ext2")
	img := newRandomFile(t, 8<<20)
	run(t, "mkfs.ext2", "-q", "-F", "-E", "nodiscard", "-b", "4096", img)
	before := scanFile(t, img)
	writeAt(t, img, map[int64][]byte{4086: []byte("SWAPSPACE2")}) // inside block 0's unused tail
	m := scanFile(t, img)
	p := m.Partitions[0]
	if p.FS != "ext2+swap" || p.Warning == "" {
		t.Fatalf("ambiguous: %+v", p)
	}
	for _, r := range before.Used {
		if !mapCovers(m, r.Off, r.Len) {
			t.Fatalf("ext2 range %+v dropped", r)
		}
	}
}

// TestScanMBRSectorAlwaysKept: a partition entry claiming sector 0 cannot
// make the table itself droppable.
func TestScanMBRSectorAlwaysKept(t *testing.T) {
	disk := make([]byte, 1<<20)
	copy(disk, mbrSector([3]uint32{0x82, 0, 2048}, [3]uint32{0x83, 2048, 1}))
	copy(disk[4086:], "SWAPSPACE2")
	m, err := Scan(readerAt(disk), int64(len(disk)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !mapCovers(m, 0, 512) {
		t.Fatalf("sector 0 dropped: %+v", m.Used)
	}
}

func benchScan(b *testing.B, mkfs string, size int64, args ...string) {
	needTool(b, mkfs)
	img := filepath.Join(b.TempDir(), "bench.img")
	f, err := os.Create(img)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: Scan reads only metadata
		b.Fatal(err)
	}
	run(b, mkfs, append(append([]string{"-q", "-F"}, args...), img)...)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		m, err := Scan(f, size, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(m.Used)), "ranges")
	}
	f.Close()
}

// Throughput is disk bytes mapped per second (metadata reads come from
// the page cache after the first round).
func BenchmarkScanExt4_4GiB(b *testing.B) { benchScan(b, "mkfs.ext4", 4<<30) }

func BenchmarkScanExt4_1K_1GiB(b *testing.B) {
	benchScan(b, "mkfs.ext4", 1<<30, "-b", "1024", "-O", "^flex_bg")
}

// TestScanReaderPanicAndError: a misbehaving reader costs space, never
// data or a crash. (Not parallel: it swaps the reader registry.)
func TestScanReaderPanicAndError(t *testing.T) {
	saved := readers
	defer func() { readers = saved }()
	disk := make([]byte, 1<<20)
	copy(disk, "TESTFS")
	for name, used := range map[string]func(io.ReaderAt, int64) ([]image.Range, error){
		"panic": func(io.ReaderAt, int64) ([]image.Range, error) { panic("boom") },
		"error": func(io.ReaderAt, int64) ([]image.Range, error) { return nil, errors.New("corrupt") },
	} {
		readers = []fsReader{{
			name:  "testfs",
			probe: func(r io.ReaderAt, _ int64) bool { b := make([]byte, 6); r.ReadAt(b, 0); return string(b) == "TESTFS" },
			used:  used,
		}}
		m, err := Scan(readerAt(disk), int64(len(disk)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := m.Partitions[0]; m.UsedBytes() != m.Size || p.FS != "testfs" || p.Warning == "" {
			t.Fatalf("%s: %+v used %d", name, p, m.UsedBytes())
		}
	}
}
