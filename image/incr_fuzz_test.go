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
