package image

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// keepShuffled feeds the chunks of img to a FileWriter at path in a random
// order, with duplicates, starting from header h.
func keepShuffled(t *testing.T, img []byte, path string, h *Header, seed uint64) *FileWriter {
	t.Helper()
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewFileWriter(path, h)
	if err != nil {
		t.Fatal(err)
	}
	order := rand.New(rand.NewPCG(seed, 1)).Perm(r.NumChunks())
	order = append(order, order[:len(order)/3]...)
	for _, i := range order {
		c, _ := r.Chunk(i)
		if err := w.Put(context.Background(), c); err != nil {
			t.Fatalf("Put chunk %d: %v", i, err)
		}
	}
	return w
}

func TestFileWriterAnyOrder(t *testing.T) {
	data, used := diskData()
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))),
		CreateConfig{ChunkSize: MinChunkSize, Used: used})
	want := installImage(t, img, InstallConfig{}, nil)
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	dir := t.TempDir()
	for name, start := range map[string]*Header{"preliminary": r.Preliminary(), "complete": h} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".dsc")
			w := keepShuffled(t, img, path, start, 5)
			if st := w.Stats(); st.Accepted != int(h.ChunkCount) || st.Duplicates == 0 {
				t.Fatalf("stats %+v", st)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("destination exists before Close: %v", err)
			}
			if err := w.SetHeader(h); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			kept, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer kept.Close()
			if err := Verify(context.Background(), kept, InstallConfig{}); err != nil {
				t.Fatal(err)
			}
			if *kept.Header() != *h {
				t.Fatalf("kept header %+v, want %+v", kept.Header(), h)
			}
			b, _ := os.ReadFile(path)
			mustEqual(t, installImage(t, b, InstallConfig{}, nil), want)
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Name()[0] == '.' {
					t.Fatalf("left a temporary file behind: %s", e.Name())
				}
			}
		})
	}
}

// Without the final header, the last chunk still tells the count.
func TestFileWriterFinalFromLastChunk(t *testing.T) {
	data, _ := diskData()
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	path := filepath.Join(t.TempDir(), "img")
	w := keepShuffled(t, img, path, r.Preliminary(), 9)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	kept, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if err := Verify(context.Background(), kept, InstallConfig{}); err != nil {
		t.Fatal(err)
	}
	if got := kept.Header(); got.ChunkCount != h.ChunkCount || got.TargetSize != h.TargetSize || got.DataBytes != h.DataBytes {
		t.Fatalf("completed header %+v, want %+v", got, h)
	}
}

func TestFileWriterIncompleteAndBad(t *testing.T) {
	data, _ := diskData()
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	dir := t.TempDir()
	path := filepath.Join(dir, "img")
	w, err := NewFileWriter(path, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range r.NumChunks() {
		if i == 1 || i == 2 {
			continue
		}
		c, _ := r.Chunk(i)
		if err := w.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// A damaged chunk and a foreign one are refused with a *ChunkError.
	c, _ := r.Chunk(2)
	c = append([]byte(nil), c...)
	c[len(c)-1] ^= 1
	var ce *ChunkError
	if err := w.Put(ctx, c); !errors.As(err, &ce) || ce.Index != 2 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged chunk: %v", err)
	}
	other, _, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	ro, _ := Open(bytes.NewReader(other), int64(len(other)))
	c, _ = ro.Chunk(2)
	if err := w.Put(ctx, c); !errors.Is(err, ErrForeignImage) {
		t.Fatalf("foreign chunk: %v", err)
	}
	if got := w.Missing(0); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("missing %v", got)
	}
	err = w.Close()
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Close of an incomplete image: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("incomplete image left files: %v", ents)
	}
	if err := w.Put(ctx, c); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	// A destination that is a directory is refused up front.
	if _, err := NewFileWriter(dir, h); err == nil {
		t.Fatal("directory accepted as destination")
	}
}
