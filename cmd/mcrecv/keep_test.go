package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/image"
)

// testImage makes an image file of a few MiB of mixed data and returns its
// path and the disk it installs.
func testImage(t *testing.T) (string, []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	disk := make([]byte, 3<<20+5000)
	for i := 0; i < len(disk); i += 16 << 10 {
		switch (i / (16 << 10)) % 3 {
		case 0: // random, incompressible
			for j := i; j < min(i+16<<10, len(disk)); j++ {
				disk[j] = byte(rng.Uint32())
			}
		case 1: // text-like
			for j := i; j < min(i+16<<10, len(disk)); j++ {
				disk[j] = "discus keeps images "[rng.IntN(20)]
			}
		} // case 2: zeros
	}
	path := filepath.Join(t.TempDir(), "src.dsc")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := image.NewSource(bytes.NewReader(disk), int64(len(disk)))
	if _, _, err := image.Create(context.Background(), src, f, image.CreateConfig{ChunkSize: image.MinChunkSize}); err != nil {
		t.Fatal(err)
	}
	return path, disk
}

// installed returns the disk an image file installs.
func installed(t *testing.T, path string) []byte {
	t.Helper()
	r, err := image.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := image.NewDiskReader(r)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out := make([]byte, d.Size())
	if n, err := d.ReadAt(out, 0); n != len(out) {
		t.Fatalf("reading the disk: %d bytes, %v", n, err)
	}
	return out
}

func TestKeepShuffled(t *testing.T) {
	srcPath, disk := testImage(t)
	r, err := image.OpenFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keepPath := filepath.Join(t.TempDir(), "kept.dsc")
	k, err := newImageKeeper(keepPath)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	// Joined from an announcement: the preliminary header first.
	sink, err := k.sink(r.Preliminary())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	order := rand.New(rand.NewPCG(1, 2)).Perm(r.NumChunks())
	for n, i := range order {
		c, err := r.Chunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if n == 3 { // a damaged copy first: refused, to be fetched again
			bad := append([]byte(nil), c...)
			bad[len(bad)/2] ^= 0x10
			var ce *image.ChunkError
			if err := sink.Put(ctx, bad); !errors.As(err, &ce) {
				t.Fatalf("damaged chunk %d: %v", i, err)
			}
		}
		if err := sink.Put(ctx, c); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if n == len(order)/2 {
			if err := sink.SetHeader(r.Header()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := sink.Stats(); st.Written != r.NumChunks() || st.TotalChunks != r.NumChunks() || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.finish(); err != nil {
		t.Fatal(err)
	}
	kept, err := image.OpenFile(keepPath)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if err := image.Verify(ctx, kept, image.InstallConfig{}); err != nil {
		t.Fatal(err)
	}
	if *kept.Header() != *r.Header() {
		t.Fatalf("kept header %+v\nwant %+v", kept.Header(), r.Header())
	}
	if got := installed(t, keepPath); !bytes.Equal(got, disk) {
		t.Fatal("the kept image installs different bytes")
	}
}

func TestKeepIncomplete(t *testing.T) {
	srcPath, _ := testImage(t)
	r, err := image.OpenFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	keepPath := filepath.Join(dir, "kept.dsc")
	k, err := newImageKeeper(keepPath)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := k.sink(r.Header())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < r.NumChunks(); i++ {
		c, _ := r.Chunk(i)
		if err := sink.Put(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); !errors.Is(err, image.ErrIncomplete) {
		t.Fatalf("Close without chunk 0: %v", err)
	}
	k.close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("an incomplete session left %v", ents)
	}
}

func TestKeepBadPath(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"-", dir, filepath.Join(dir, "missing", "x.dsc")} {
		if _, err := newImageKeeper(p); err == nil {
			t.Errorf("newImageKeeper(%q) accepted", p)
		}
	}
}
