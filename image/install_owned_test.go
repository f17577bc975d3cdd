package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestPutOwned: PutOwned installs the caller's buffer without a copy and calls release
// exactly once per chunk it took (after the write, at once for a duplicate); a chunk it
// refuses is not taken (release not called).
func TestPutOwned(t *testing.T) {
	data := compressible(3, 5*MinChunkSize)
	img, _, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "target")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, err := NewInstaller(f, r.Header(), InstallConfig{Grow: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Int64
	put := func(i int, mangle bool) error {
		c, err := r.Chunk(i)
		if err != nil {
			t.Fatal(err)
		}
		own := append([]byte(nil), c...)
		if mangle {
			own[len(own)-1] ^= 1
		}
		return in.PutOwned(context.Background(), own, func() { released.Add(1); clear(own) })
	}
	n := r.NumChunks()
	if err := put(0, true); err == nil {
		t.Fatal("a corrupt chunk was taken")
	} else if ce := (*ChunkError)(nil); !errors.As(err, &ce) {
		t.Fatalf("corrupt chunk: %v, want a *ChunkError", err)
	}
	for i := range n {
		if err := put(i, false); err != nil {
			t.Fatalf("PutOwned %d: %v", i, err)
		}
	}
	if err := put(1, false); err != nil { // a duplicate
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if got := released.Load(); got != int64(n+1) {
		t.Fatalf("release called %d times, want %d (%d chunks and a duplicate)", got, n+1, n)
	}
	out, _ := os.ReadFile(path)
	mustEqual(t, out, data)
	t.Logf("ASSERT %d chunks installed from owned buffers, release called %d times, a corrupt one not taken", n, released.Load())
}
