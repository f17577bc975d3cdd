package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestPutOwnedChecked: a chunk handed over as already matched to the manifest is
// installed like PutOwned's (released once, the disk exact); its header is still
// checked: a chunk with a mangled header is refused and not taken.
func TestPutOwnedChecked(t *testing.T) {
	data := append(randomBytes(4, 2*MinChunkSize), compressible(5, 3*MinChunkSize)...)
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
	mc, err := NewManifestChecker(r.Header())
	if err != nil {
		t.Fatal(err)
	}
	for p := range r.ManifestParts() {
		part, err := r.ManifestPart(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := mc.AddPart(p, part); err != nil {
			t.Fatal(err)
		}
	}
	var released atomic.Int64
	n := r.NumChunks()
	for i := range n {
		c, err := r.Chunk(i)
		if err != nil {
			t.Fatal(err)
		}
		own := append([]byte(nil), c...)
		if err := mc.CheckChunk(i, own); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if i == 0 {
			bad := append([]byte(nil), own...)
			bad[20] ^= 1 // in the header: its checksum no longer matches
			if err := in.PutOwnedChecked(context.Background(), bad, func() { t.Error("a refused chunk was released") }); err == nil {
				t.Fatal("a chunk with a mangled header was taken")
			}
		}
		if err := in.PutOwnedChecked(context.Background(), own, func() { released.Add(1); clear(own) }); err != nil {
			t.Fatalf("PutOwnedChecked %d: %v", i, err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if got := released.Load(); got != int64(n) {
		t.Fatalf("release called %d times, want %d", got, n)
	}
	out, _ := os.ReadFile(path)
	mustEqual(t, out, data)
	t.Logf("ASSERT %d chunks installed as checked, a mangled header refused", n)
}

// BenchmarkParseChunk: what Installer.put spends parsing a 1 MiB incompressible
// chunk with its payload checksum (Put, PutOwned) and without (PutOwnedChecked, once
// the manifest's SHA-256 has vouched for the bytes).
func BenchmarkParseChunk(b *testing.B) {
	data := randomBytes(6, 1<<20)
	img, _, _ := createImage(b, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{})
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		b.Fatal(err)
	}
	c, err := r.Chunk(0)
	if err != nil {
		b.Fatal(err)
	}
	for _, sum := range []bool{true, false} {
		name := "payloadSum"
		if !sum {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(c)))
			for b.Loop() {
				if _, _, err := parseChunkErr(c, sum); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
