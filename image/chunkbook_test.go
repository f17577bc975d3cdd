package image

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// bookHeader is a preliminary header of an image of 64 KiB chunks whose
// target size is known (size >= 0) or not (SizeUnknown).
func bookHeader(size int64) *Header {
	return &Header{ID: ID{1}, ChunkSize: MinChunkSize, SectorSize: 512, TargetSize: size, Codec: CodecZstd}
}

// bookChunk is the header of chunk i of an image whose spans are 1000
// bytes each; a last chunk (n > 0) says the image has n chunks.
func bookChunk(i, n int) *ChunkHeader {
	c := &ChunkHeader{ImageID: ID{1}, Index: uint32(i), Span: Range{Off: int64(i) * 1000, Len: 1000}}
	if n > 0 {
		c.Last, c.Count = true, uint32(n)
	}
	return c
}

func admitted(t *testing.T, b *chunkBook, ch *ChunkHeader) {
	t.Helper()
	dup, err := b.admit(ch, nil)
	if err != nil || dup {
		t.Fatalf("admit chunk %d: dup %v, %v", ch.Index, dup, err)
	}
	b.accept(ch, 100)
}

func wantRefused(t *testing.T, b *chunkBook, ch *ChunkHeader, want string) {
	t.Helper()
	_, err := b.admit(ch, nil)
	var ce *ChunkError
	if !errors.As(err, &ce) || ce.Index != int(ch.Index) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Fatalf("admit chunk %d: %v, want a corrupt *ChunkError saying %q", ch.Index, err, want)
	}
}

func TestChunkBookPreliminary(t *testing.T) {
	b := newChunkBook(bookHeader(SizeUnknown), "kept", "received")
	admitted(t, &b, bookChunk(0, 0))
	admitted(t, &b, bookChunk(3, 0))
	// Without a chunk count, only the gaps below the highest index show.
	if got := b.missing(0); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("missing %v, want [1 2]", got)
	}
	if dup, err := b.admit(bookChunk(3, 0), nil); !dup || err != nil {
		t.Fatalf("chunk 3 again: dup %v, %v", dup, err)
	}
	wantRefused(t, &b, bookChunk(2, 3), "last chunk says 3 chunks, chunk 3 was received")
	if _, _, err := b.final(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("final without a count: %v", err)
	}
	admitted(t, &b, bookChunk(5, 6))
	if got := b.missing(0); !slices.Equal(got, []int{1, 2, 4}) {
		t.Fatalf("missing %v after the last chunk, want [1 2 4]", got)
	}
	if got := b.missing(2); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("missing(2) %v, want [1 2]", got)
	}
	wantRefused(t, &b, bookChunk(6, 0), "index 6, the last chunk says 6 chunks")
	wantRefused(t, &b, bookChunk(4, 5), "chunks 5 and 4 both say they are last")
	s := b.snapshot()
	if s.Accepted != 3 || s.Rejected != 3 || s.ChunkBytes != 300 || s.TotalChunks != 6 {
		t.Fatalf("stats %+v", s)
	}
	h, fromLast, err := b.final()
	if err != nil || !fromLast || !h.Complete || h.ChunkCount != 6 || h.TargetSize != 6000 {
		t.Fatalf("final: %+v, fromLast %v, %v", h, fromLast, err)
	}
	if b.h.Complete {
		t.Fatal("final changed the book's header")
	}
}

func TestChunkBookTargetSize(t *testing.T) {
	b := newChunkBook(bookHeader(5000), "installed", "installed")
	wantRefused(t, &b, bookChunk(3, 4), "last chunk ends at 4000, target size is 5000")
	wantRefused(t, &b, bookChunk(5, 0), "past the target size 5000")
	fit := func(ch *ChunkHeader) error {
		if ch.Index == 2 {
			return ErrTargetTooSmall
		}
		return nil
	}
	if _, err := b.admit(bookChunk(2, 0), fit); !errors.Is(err, ErrTargetTooSmall) {
		t.Fatalf("fit refusing chunk 2: %v", err)
	}
	if b.snapshot().Rejected != 3 {
		t.Fatalf("rejected %d, want 3", b.snapshot().Rejected)
	}
}

func TestChunkBookUnaccept(t *testing.T) {
	b := newChunkBook(bookHeader(SizeUnknown), "installed", "installed")
	admitted(t, &b, bookChunk(0, 0))
	admitted(t, &b, bookChunk(1, 0))
	b.unaccept(1, 100)
	if s := b.snapshot(); s.Accepted != 1 || s.ChunkBytes != 100 || b.have.get(1) {
		t.Fatalf("after unaccept: %+v", s)
	}
	if dup, err := b.admit(bookChunk(1, 0), nil); dup || err != nil {
		t.Fatalf("chunk 1 after unaccept: dup %v, %v", dup, err)
	}
}

func TestChunkBookHeader(t *testing.T) {
	b := newChunkBook(bookHeader(SizeUnknown), "kept", "received")
	admitted(t, &b, bookChunk(4, 0))
	final := func(n uint32, size int64) *Header {
		h := bookHeader(size)
		h.Complete, h.ChunkCount = true, n
		return h
	}
	other := final(5, 5000)
	other.ID = ID{2}
	for _, c := range []struct {
		h    *Header
		want string
	}{
		{other, "does not match the image being kept"},
		{final(4, 4000), "a chunk beyond the image's 4 chunks was received"},
	} {
		if err := b.checkHeader(c.h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("checkHeader: %v, want %q", err, c.want)
		}
	}
	admitted(t, &b, bookChunk(5, 6))
	if err := b.checkHeader(final(6, 7000)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("header against the last chunk's end: %v", err)
	}
	if err := b.checkHeader(final(6, 6000)); err != nil {
		t.Fatalf("the image's own final header: %v", err)
	}
	b.h = final(6, 6000)
	if got := b.snapshot().TotalChunks; got != 6 {
		t.Fatalf("TotalChunks %d, want 6", got)
	}
	h, fromLast, err := b.final()
	if err != nil || fromLast || h != b.h {
		t.Fatalf("final with a complete header: %v %v", fromLast, err)
	}
	if err := incomplete(&b.have, h); err == nil || !strings.Contains(err.Error(), "4 of 6 chunks missing (0, 1, 2, 3)") {
		t.Fatalf("incomplete: %v", err)
	}
	for i := range 4 {
		b.have.set(i)
	}
	if err := incomplete(&b.have, h); err != nil {
		t.Fatalf("incomplete with every chunk: %v", err)
	}
}
