package fsmap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/discuscast/discus/image"
)

// swapDisk writes an 8 MiB disk with an MBR holding a swap partition
// (1 MiB..3 MiB) and one of a filesystem nobody knows (4 MiB..5 MiB).
func swapDisk(t *testing.T, dir string) string {
	t.Helper()
	disk := make([]byte, 8<<20)
	entry := func(i int, typ byte, startLBA, sectors uint32) {
		e := disk[446+16*i:]
		e[4] = typ
		binary.LittleEndian.PutUint32(e[8:], startLBA)
		binary.LittleEndian.PutUint32(e[12:], sectors)
	}
	entry(0, 0x82, 2048, 4096)
	entry(1, 0x83, 8192, 2048)
	disk[510], disk[511] = 0x55, 0xaa
	copy(disk[1<<20+4096-10:], "SWAPSPACE2")
	fillRandom(rand.New(rand.NewPCG(1, 2)), disk[4<<20:5<<20])
	p := filepath.Join(dir, "disk")
	if err := os.WriteFile(p, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenSource(t *testing.T) {
	dir := t.TempDir()
	disk := swapDisk(t, dir)
	src, m, err := OpenSource(disk, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Size() != 8<<20 || m == nil || len(m.Partitions) != 2 || m.Partitions[0].FS != "swap" {
		t.Fatalf("size %d, map %+v", src.Size(), m)
	}
	// The swap area keeps its header page only, the unknown partition and
	// what precedes the first partition are whole; the gaps are skipped.
	if want := int64(1<<20 + 4096 + 1<<20); m.UsedBytes() != want || m.GapBytes() != 4<<20 {
		t.Errorf("%d of %d bytes used, want %d", m.UsedBytes(), m.Size, want)
	}

	// Nothing to scan: every byte is imaged (nil map).
	raw, m, err := OpenSource(disk, true, nil)
	if err != nil || m != nil || raw.Size() != 8<<20 {
		t.Fatalf("raw: map %v, %v", m, err)
	}
	raw.Close()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	e, m, err := OpenSource(empty, false, nil)
	if err != nil || m != nil {
		t.Fatalf("empty: map %v, %v", m, err)
	}
	e.Close()

	if _, _, err := OpenSource(filepath.Join(dir, "none"), false, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing source: %v", err)
	}
	if _, ok := errors.AsType[*ScanError](err); ok {
		t.Errorf("an open error is not a ScanError")
	}
}

func TestScanError(t *testing.T) {
	err := error(&ScanError{Path: "/dev/sdz", Err: os.ErrDeadlineExceeded})
	if got, want := err.Error(), "/dev/sdz: reading its partitions and filesystems: "+os.ErrDeadlineExceeded.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("ScanError does not unwrap")
	}
}

// An image made from the map reads back, without installing, as the same
// partitions and used ranges.
func TestScanImage(t *testing.T) {
	dir := t.TempDir()
	src, m, err := OpenSource(swapDisk(t, dir), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	if _, _, err := image.Create(context.Background(), src, &buf, image.CreateConfig{Used: m.Used}); err != nil {
		t.Fatal(err)
	}
	r, err := image.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanImage(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Partitions, m.Partitions) || !slices.Equal(got.Used, m.Used) {
		t.Errorf("from the image: %+v\nfrom the disk: %+v", got, m)
	}
}
