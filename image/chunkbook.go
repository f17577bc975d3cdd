package image

import (
	"fmt"
	"strings"
	"time"
)

// chunkBook is the bookkeeping an Installer and a FileWriter share: which
// chunks were accepted, the header that may still become complete, the
// last chunk once seen, and the counts Stats reports. Every rule about
// where a chunk may stand in the image lives here once, whatever its owner
// then does with the chunk (write it to a disk, spool it into a file).
//
// It is not safe for concurrent use: the owner holds its mutex around
// every call.
type chunkBook struct {
	h     *Header      // preliminary until SetHeader or the last chunk completes it
	last  *ChunkHeader // the image's last chunk, once accepted: it tells the chunk count
	have  bitset       // accepted
	stats InstallStats
	start time.Time

	// How messages name what the owner does: "the image being <being>",
	// "chunk N was <was>".
	being, was string
}

func newChunkBook(h *Header, being, was string) chunkBook {
	return chunkBook{h: h.clone(), start: time.Now(), being: being, was: was}
}

// admit checks a parsed chunk against what is known of the image before
// it is accepted: that it belongs to the image, that fit (the owner's own
// limit, may be nil) takes it, and that it agrees with the last chunk. A
// refused chunk is counted and named in the error; dup reports one that
// was accepted before, which the owner ignores.
func (b *chunkBook) admit(ch *ChunkHeader, fit func(*ChunkHeader) error) (dup bool, err error) {
	err = checkChunkInImage(ch, b.h)
	if err == nil && fit != nil {
		err = fit(ch)
	}
	if err == nil && ch.Last {
		err = b.checkLast(ch)
	}
	if err == nil && b.last != nil && ch.Index >= b.last.Count {
		err = corruptf("index %d, the last chunk says %d chunks", ch.Index, b.last.Count)
	}
	if err != nil {
		return false, b.reject(ch, err)
	}
	return b.have.get(int(ch.Index)), nil
}

// checkLast checks the last chunk against what is known: the target size,
// and that no chunk beyond it was accepted. With a complete header,
// checkChunkInImage has already said all of this.
func (b *chunkBook) checkLast(ch *ChunkHeader) error {
	if b.last != nil && b.last.Index != ch.Index {
		return corruptf("chunks %d and %d both say they are last", b.last.Index, ch.Index)
	}
	if b.h.TargetSize != SizeUnknown && ch.Span.End() != b.h.TargetSize {
		return corruptf("last chunk ends at %d, target size is %d", ch.Span.End(), b.h.TargetSize)
	}
	if b.have.max() >= int(ch.Count) {
		return corruptf("last chunk says %d chunks, chunk %d was %s", ch.Count, b.have.max(), b.was)
	}
	return nil
}

// reject counts a refused chunk and names it in the error Put returns, so
// the caller can fetch that chunk again.
func (b *chunkBook) reject(ch *ChunkHeader, err error) error {
	b.stats.Rejected++
	return &ChunkError{Index: int(ch.Index), Offset: -1, Err: err}
}

// accept records an admitted chunk of n encoded bytes.
func (b *chunkBook) accept(ch *ChunkHeader, n int) {
	b.have.set(int(ch.Index))
	if ch.Last {
		b.last = ch
	}
	b.stats.Accepted++
	b.stats.ChunkBytes += int64(n)
}

// unaccept takes chunk i back (n encoded bytes of it), so that it is
// missing again and may be Put again.
func (b *chunkBook) unaccept(i, n int) {
	b.have.clear(i)
	b.stats.Accepted--
	b.stats.ChunkBytes -= int64(n)
}

// completedBy is the header completed from the image's last chunk, which
// knows the chunk count and where the target ends: so a receiver that has
// every chunk can finish without the final header.
func (b *chunkBook) completedBy(last *ChunkHeader) *Header {
	h := b.h.clone()
	h.TargetSize = last.Span.End()
	h.ChunkCount = last.Count
	h.Complete = true
	return h
}

// checkHeader checks a header that is to replace the current one (already
// validated): the same image, contradicting nothing said or accepted.
func (b *chunkBook) checkHeader(h *Header) error {
	if !b.h.canBecome(h) {
		return fmt.Errorf("%w: new header does not match the image being %s", ErrForeignImage, b.being)
	}
	if h.Complete && b.have.max() >= int(h.ChunkCount) {
		return corruptf("a chunk beyond the image's %d chunks was %s", h.ChunkCount, b.was)
	}
	if b.last != nil && h.TargetSize >= 0 && b.last.Span.End() != h.TargetSize {
		return corruptf("last chunk ends at %d, header says the target has %d bytes", b.last.Span.End(), h.TargetSize)
	}
	return nil
}

// count is how many chunks the image has, as far as is known: with a
// preliminary header and no last chunk, only up to the highest one seen.
func (b *chunkBook) count() int {
	switch {
	case b.h.Complete:
		return int(b.h.ChunkCount)
	case b.last != nil:
		return int(b.last.Count)
	}
	return b.have.max() + 1
}

// missing lists up to max chunk indexes not accepted yet (all if max <= 0).
func (b *chunkBook) missing(max int) []int {
	return b.have.missing(b.count(), max)
}

// snapshot is what Stats returns.
func (b *chunkBook) snapshot() InstallStats {
	s := b.stats
	s.Elapsed = time.Since(b.start)
	if b.h.Complete {
		s.TotalChunks = int(b.h.ChunkCount)
	} else if b.last != nil {
		s.TotalChunks = int(b.last.Count)
	}
	return s
}

// final returns the complete header Close needs: the one given, or else
// one completed from the last chunk (fromLast; its statistics are the
// owner's to fill). Without either the image cannot be finished.
func (b *chunkBook) final() (h *Header, fromLast bool, err error) {
	if b.h.Complete {
		return b.h, false, nil
	}
	if b.last == nil {
		return nil, false, fmt.Errorf("%w: the image's final header (chunk count) never arrived", ErrIncomplete)
	}
	return b.completedBy(b.last), true, nil
}

// incomplete is Close's error when done (the chunks finished: written or
// kept) lacks any of h's chunks, or nil.
func incomplete(done *bitset, h *Header) error {
	miss := done.missing(int(h.ChunkCount), 0)
	if len(miss) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d chunks missing (%s)", ErrIncomplete, len(miss), h.ChunkCount, listInts(miss, 10))
}

// listInts lists the first n of v, then "...".
func listInts(v []int, n int) string {
	var sb strings.Builder
	for i, x := range v {
		if i == n {
			sb.WriteString(", ...")
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprint(&sb, x)
	}
	return sb.String()
}

// canBecome reports whether h may replace the header old describes an image
// by: the same image, with nothing old already said (size, a final chunk
// count) contradicted.
func (old *Header) canBecome(h *Header) bool {
	return h.ID == old.ID && h.ChunkSize == old.ChunkSize &&
		h.Encrypted == old.Encrypted && h.KeyID == old.KeyID &&
		(old.ManifestRoot == [32]byte{} || old.ManifestRoot == h.ManifestRoot) &&
		(old.TargetSize == SizeUnknown || old.TargetSize == h.TargetSize) &&
		(!old.Complete || h.Complete && old.ChunkCount == h.ChunkCount)
}
