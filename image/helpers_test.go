package image

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// compressible returns n bytes that compress about 3:1 and contain no
// all-zero 4 KiB block.
func compressible(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"disk ", "image ", "chunk ", "multicast ", "zstd ", "sector ", "range ", "block ", "\n"}
	b := make([]byte, 0, n+64)
	for len(b) < n {
		x := r.Uint64() // one random number makes a few words and a noise pair
		for k := 0; k < 6; k++ {
			b = append(b, words[x%uint64(len(words))]...)
			x /= uint64(len(words))
		}
		b = append(b, byte(x), byte(x>>8))
	}
	return b[:n]
}

func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// createImage makes an image file of data in memory.
func createImage(t testing.TB, src *Source, cfg CreateConfig) ([]byte, *Header, CreateStats) {
	t.Helper()
	var buf bytes.Buffer
	h, st, err := Create(context.Background(), src, &buf, cfg)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return buf.Bytes(), h, st
}

// installImage installs an in-memory image file onto a new file and
// returns the file's bytes.
func installImage(t testing.TB, img []byte, cfg InstallConfig, order func([]int)) []byte {
	t.Helper()
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	path := filepath.Join(t.TempDir(), "target")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg.Grow = true
	in, err := NewInstaller(f, r.Header(), cfg)
	if err != nil {
		t.Fatalf("NewInstaller: %v", err)
	}
	idx := make([]int, r.NumChunks())
	for i := range idx {
		idx[i] = i
	}
	if order != nil {
		order(idx)
	}
	for _, i := range idx {
		c, err := r.Chunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Put(context.Background(), c); err != nil {
			t.Fatalf("Put chunk %d: %v", i, err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatalf("installer Close: %v", err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustEqual(t testing.TB, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("installed %d bytes, want %d", len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("installed bytes differ first at offset %d", i)
			}
		}
	}
}

// buildFile writes an image file of the given chunks with a manifest made
// from them: h (complete) gets their root, and is signed with key if set.
// Tests use it to make files that are consistent except where they mean
// them not to be.
func buildFile(pre, h *Header, chunks [][]byte, key ed25519.PrivateKey) []byte {
	out, err := appendPrologue(nil, pre)
	if err != nil {
		panic(err)
	}
	var offs []uint64
	var hashes []byte
	for _, c := range chunks {
		offs = append(offs, uint64(len(out)))
		out = append(out, c...)
		s := sha256.Sum256(c)
		hashes = append(hashes, s[:]...)
	}
	m := newManifest(h.ChunkSize, hashes, nil)
	h = h.clone()
	h.BlockMapLen, h.BlockSize = 0, 0 // built without a block map
	h.ManifestRoot = m.Root()
	var sig *Signature
	if key != nil {
		if sig, err = Sign(h, key); err != nil {
			panic(err)
		}
	}
	at := int64(len(out))
	idx, err := appendIndex(nil, offs, m, h, sig)
	if err != nil {
		panic(err)
	}
	return append(out, appendTrailer(idx, at)...)
}
