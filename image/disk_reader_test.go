package image

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// diskData is a small disk: text, zero blocks, random bytes and a part the
// creator is told is unused.
func diskData() ([]byte, []Range) {
	data := append(compressible(3, 300<<10), make([]byte, 64<<10)...)
	data = append(data, randomBytes(3, 100<<10)...)
	data = append(data, compressible(4, 200<<10+777)...)
	used := []Range{{Off: 0, Len: 250 << 10}, {Off: 300 << 10, Len: int64(len(data)) - 300<<10 - 1000}}
	return data, used
}

func TestDiskReaderMatchesInstall(t *testing.T) {
	data, used := diskData()
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))),
		CreateConfig{ChunkSize: MinChunkSize, Used: used})
	disk := installImage(t, img, InstallConfig{}, nil)
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDiskReader(r)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != h.TargetSize || int64(len(disk)) != h.TargetSize {
		t.Fatalf("size %d, installed %d, header %d", d.Size(), len(disk), h.TargetSize)
	}
	whole := make([]byte, len(disk))
	if n, err := d.ReadAt(whole, 0); n != len(disk) || (err != nil && err != io.EOF) {
		t.Fatalf("whole read: %d, %v", n, err)
	}
	mustEqual(t, whole, disk)
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		off := rng.Int64N(int64(len(disk)))
		p := make([]byte, rng.IntN(200<<10))
		n, err := d.ReadAt(p, off)
		end := min(off+int64(len(p)), int64(len(disk)))
		if n != int(end-off) || (n < len(p) && err != io.EOF) || (n == len(p) && err != nil) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", len(p), off, n, err)
		}
		if !bytes.Equal(p[:n], disk[off:end]) {
			t.Fatalf("ReadAt(%d bytes at %d) differs from the installed disk", len(p), off)
		}
	}
	if n, err := d.ReadAt(make([]byte, 1), h.TargetSize); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v", n, err)
	}
	if _, err := d.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset accepted")
	}
}

func TestDiskReaderCorruptChunk(t *testing.T) {
	data, _ := diskData()
	img, _, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	off, n := r.ChunkOffset(1)
	img[off+int64(n)-10] ^= 0x40 // payload of chunk 1
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDiskReader(r)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, len(data))
	_, err = d.ReadAt(buf, 0)
	var ce *ChunkError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Index != 1 {
		t.Fatalf("reading over a damaged chunk: %v", err)
	}
	// A damaged span in a chunk header is found when the reader opens.
	img2 := append([]byte(nil), img...)
	img2[off+48] ^= 1
	r2, _ := Open(bytes.NewReader(img2), int64(len(img2)))
	if _, err := NewDiskReader(r2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged span: %v", err)
	}
}

// rebuildImage is the fuzz image with chunk k replaced by c (an image file
// whose index, manifest and trailer are valid, so only the chunk checks
// stand in the way).
func rebuildImage(r *Reader, k int, c []byte) []byte {
	var chunks [][]byte
	for i := range r.NumChunks() {
		b, _ := r.Chunk(i)
		if i == k {
			b = c
		}
		chunks = append(chunks, b)
	}
	return buildFile(r.Preliminary(), r.Header(), chunks, nil)
}

// FuzzDiskReader reads the disk of an image one of whose chunks is
// arbitrary: never a panic, and never bytes from a chunk that is not valid.
func FuzzDiskReader(f *testing.F) {
	img := fuzzImage()
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	for i := range r.NumChunks() {
		c, _ := r.Chunk(i)
		f.Add(c, uint8(i), uint32(0), uint32(1<<20))
	}
	f.Fuzz(func(t *testing.T, c []byte, k uint8, off, n uint32) {
		b := rebuildImage(r, int(k)%r.NumChunks(), c)
		r, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		d, err := NewDiskReader(r)
		if err != nil {
			return
		}
		defer d.Close()
		p := make([]byte, n%(1<<20))
		d.ReadAt(p, int64(off)%max(d.Size(), 1))
	})
}
