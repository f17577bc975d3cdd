package session_test

import (
	"bytes"
	"testing"

	"github.com/discuscast/discus/session"
)

// TestImageSourceRecycle: a chunk buffer handed back is read into by a later Chunk
// (same array, the later chunk's bytes); a manifest part handed back is never reused
// (it is the manifest's own).
func TestImageSourceRecycle(t *testing.T) {
	img := makeImage(t, diskBytes(12<<20, 3))
	src, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := src.ChunkCount()
	chunks := n - src.Lead()
	if chunks < 3 || src.Lead() < 1 {
		t.Fatalf("%d chunks, %d manifest parts: want more", chunks, src.Lead())
	}
	want := func(i int) []byte {
		c, err := img.Chunk(i)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c0, err := src.Chunk(0)
	if err != nil {
		t.Fatal(err)
	}
	src.RecycleChunk(0, c0)
	c1, err := src.Chunk(1)
	if err != nil {
		t.Fatal(err)
	}
	if &c1[:1][0] != &c0[:1][0] || !bytes.Equal(c1, want(1)) {
		t.Fatalf("chunk 1 after recycling chunk 0: same buffer %v, intact %v", &c1[:1][0] == &c0[:1][0], bytes.Equal(c1, want(1)))
	}
	part, err := src.Chunk(chunks) // the first manifest part
	if err != nil {
		t.Fatal(err)
	}
	keep := append([]byte(nil), part...)
	src.RecycleChunk(chunks, part)
	c2, err := src.Chunk(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(part) > 0 && &c2[:1][0] == &part[:1][0] || !bytes.Equal(part, keep) || !bytes.Equal(c2, want(2)) {
		t.Fatal("a manifest part was reused")
	}
	t.Logf("ASSERT a recycled chunk buffer was reused intact, a manifest part was not")
}
