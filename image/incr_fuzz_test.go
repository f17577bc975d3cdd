package image

import (
	"bytes"
	"context"
	"testing"
)

// FuzzApplyIncremental feeds hostile increments to ApplyIncremental against
// a fixed base: it must never panic, and whatever it accepts must be a disk
// whose every block hashes to the increment's (signed-for) block map.
func FuzzApplyIncremental(f *testing.F) {
	old := compressible(7, 256<<10)
	bimg, _, _ := createImage(f, NewSource(bytes.NewReader(old), int64(len(old))), CreateConfig{ChunkSize: MinChunkSize, ID: ID{5}})
	base, err := Open(bytes.NewReader(bimg), int64(len(bimg)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		r, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			return
		}
		h := r.Header()
		if h.TargetSize > 64<<20 {
			return
		}
		target := &memTarget{}
		if _, err := ApplyIncremental(context.Background(), r, base, target); err != nil {
			return
		}
		if _, err := VerifyIncremental(context.Background(), r, base); err != nil {
			t.Fatalf("applied, but does not verify: %v", err)
		}
	})
}

// memTarget is a growing in-memory io.WriterAt.
type memTarget struct{ b []byte }

func (m *memTarget) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

// FuzzPutRef feeds hostile reference chunks to an incremental installer: it must
// never panic, and a chunk it takes writes only bytes of the new disk (each block is
// checked against the new map before any is written). Its inputs are chunks of
// 64 KiB: minimizing a new one takes the fuzzer a while (-fuzzminimizetime).
func FuzzPutRef(f *testing.F) {
	old, nw := reversedBlocks(11, 256<<10)
	bimg, _, _ := createImage(f, NewSource(bytes.NewReader(old), int64(len(old))), CreateConfig{ChunkSize: MinChunkSize, ID: ID{5}})
	base, _ := Open(bytes.NewReader(bimg), int64(len(bimg)))
	src := NewSource(bytes.NewReader(nw), int64(len(nw)))
	var ib bytes.Buffer
	if _, _, _, err := CreateIncremental(context.Background(), src, base, &ib, CreateConfig{ChunkSize: MinChunkSize, ID: ID{6}}); err != nil {
		f.Fatal(err)
	}
	incr, _ := Open(bytes.NewReader(ib.Bytes()), int64(ib.Len()))
	if _, err := BuildRefChunks(context.Background(), incr, base, 1, 1, func(_ int, c []byte) error { f.Add(c); return nil }); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, c []byte) {
		target := &memTarget{b: make([]byte, len(nw))}
		in, err := NewInstaller(target, incr.Header(), InstallConfig{Incremental: true, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if _, err := in.SetBlockMap(incr.BlockMap()); err != nil {
			t.Fatal(err)
		}
		if err := in.Put(context.Background(), c); err != nil {
			return
		}
		for i, b := range target.b {
			if b != 0 && b != nw[i] {
				t.Fatalf("byte %d written as %#x, the new disk has %#x", i, b, nw[i])
			}
		}
	})
}
