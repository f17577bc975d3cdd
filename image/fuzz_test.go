package image

import (
	"bytes"
	"context"
	"testing"
)

// fuzzImage is a small valid image file used to seed the fuzzers.
func fuzzImage() []byte {
	data := append(compressible(1, 20<<10), make([]byte, 8192)...)
	data = append(data, randomBytes(1, 3000)...)
	var buf bytes.Buffer
	_, _, err := Create(context.Background(), NewSource(bytes.NewReader(data), int64(len(data))), &buf,
		CreateConfig{ChunkSize: MinChunkSize, ID: ID{1, 2, 3}})
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func FuzzParseChunk(f *testing.F) {
	img := fuzzImage()
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		f.Fatal(err)
	}
	for i := range r.NumChunks() {
		c, _ := r.Chunk(i)
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ParseChunk(b)
		if err != nil {
			return
		}
		// A chunk that parses must re-encode to the same bytes.
		again := appendChunk(nil, h, p)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	img := fuzzImage()
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	b, _ := r.Header().MarshalBinary()
	f.Add(b)
	b, _ = r.Preliminary().MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		again, err := h.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzOpen feeds arbitrary bytes to the image-file decoders (prologue,
// index, trailer) and, for files that open, to the chunk checks.
func FuzzOpen(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzOpen (small images, whole and cut short).
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Open(bytes.NewReader(b), int64(len(b)))
		if err == nil {
			for i := range r.NumChunks() {
				r.VerifyChunk(i, nil)
			}
		}
		ScanStream(context.Background(), bytes.NewReader(b), nil, func(int, []byte) error { return nil })
	})
}

// FuzzInstall puts arbitrary chunks into an installer for the fuzz image:
// never a panic, never a write outside the target.
func FuzzInstall(f *testing.F) {
	img := fuzzImage()
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	for i := range r.NumChunks() {
		c, _ := r.Chunk(i)
		f.Add(c)
	}
	h := r.Header()
	f.Fuzz(func(t *testing.T, b []byte) {
		tgt := &sizedTarget{buf: make([]byte, h.TargetSize)}
		in, err := NewInstaller(tgt, h, InstallConfig{Workers: 1, Gaps: GapZero})
		if err != nil {
			t.Fatal(err)
		}
		in.Put(context.Background(), b)
		in.Close()
	})
}
