package image

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cespare/xxhash/v2"
)

// Reader gives random access to the chunks of an image file.
type Reader struct {
	r       io.ReaderAt
	size    int64
	h       *Header
	offs    []int64 // chunk i is [offs[i], offs[i+1])
	closer  io.Closer
	prelude *Header // the preliminary header from the file's start
	m       *Manifest
	sig     *Signature
	bm      *BlockMap
}

// Open reads an image file's prologue, trailer and index. It checks them
// all (checksums, bounds, agreement, the manifest against the header's
// ManifestRoot, the signature if any against its own key — whether that key
// is trusted is TrustedKeys.Check's business), but no chunk: Chunk returns
// raw chunk bytes, which VerifyChunk checks against the manifest, and
// ParseChunk or an Installer verify.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	if size < prologueFixed+trailerLen {
		return nil, fmt.Errorf("%w: %d bytes is too short for an image file", ErrTruncated, size)
	}
	var pro [prologueFixed + headerMaxLen]byte
	n, err := r.ReadAt(pro[:min(int64(len(pro)), size)], 0)
	if n < prologueFixed {
		return nil, fmt.Errorf("image: reading prologue: %w", errOr(err, io.ErrUnexpectedEOF))
	}
	pl, err := prologueLen(pro[:n])
	if err != nil {
		return nil, err
	}
	if pl > n {
		return nil, fmt.Errorf("%w: image file ends inside its header", ErrTruncated)
	}
	pre, err := ParseHeader(pro[prologueFixed:pl])
	if err != nil {
		return nil, fmt.Errorf("image file header: %w", err)
	}
	var tr [trailerLen]byte
	if _, err := r.ReadAt(tr[:], size-trailerLen); err != nil {
		return nil, fmt.Errorf("image: reading trailer: %w", err)
	}
	if [4]byte(tr[0:4]) != trailerMagic {
		return nil, fmt.Errorf("%w: no trailer at the end of the image file (unfinished or cut short?)", ErrTruncated)
	}
	if tr[4] != formatVersion || tr[5] != 0 || tr[6] != 0 || tr[7] != 0 {
		return nil, corruptf("image trailer: bad version or reserved bytes")
	}
	ioff, ilen := le.Uint64(tr[8:]), le.Uint64(tr[16:])
	if ioff < uint64(pl) || ilen > uint64(size) || ioff > uint64(size)-trailerLen-ilen {
		return nil, corruptf("image trailer: index [%d,+%d) outside the file", ioff, ilen)
	}
	if ioff+ilen+trailerLen != uint64(size) {
		return nil, corruptf("image trailer: index does not end at the trailer")
	}
	idx := make([]byte, ilen)
	if _, err := r.ReadAt(idx, int64(ioff)); err != nil {
		return nil, fmt.Errorf("image: reading index: %w", err)
	}
	if xxhash.Sum64(idx) != le.Uint64(tr[24:]) {
		return nil, corruptf("image index checksum mismatch")
	}
	ix, err := parseIndex(idx, int64(pl), int64(ioff))
	if err != nil {
		return nil, err
	}
	if err := sameImage(pre, ix.h); err != nil {
		return nil, err
	}
	return &Reader{r: r, size: size, h: ix.h, offs: ix.offs, prelude: pre, m: ix.m, sig: ix.sig, bm: ix.bm}, nil
}

// sameImage checks that the preliminary header agrees with the final one.
func sameImage(pre, h *Header) error {
	if pre.ID != h.ID || pre.ChunkSize != h.ChunkSize || pre.Complete ||
		pre.Encrypted != h.Encrypted || pre.KeyID != h.KeyID ||
		(pre.TargetSize != SizeUnknown && pre.TargetSize != h.TargetSize) {
		return corruptf("image file: leading and final headers disagree")
	}
	return nil
}

func errOr(err, def error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return def
	}
	return err
}

// OpenFile opens the image file at path.
func OpenFile(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := Open(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// IsImageFile reports whether the file at path is a Discus image file —
// it begins with an image file's magic (docs/FORMAT.md) — rather than a
// disk, partition or other data an image is made from. A file too short
// to hold the magic is not one. Only the magic is read, so a pipe given by
// name loses those bytes.
func IsImageFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [len(fileMagic)]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return b == fileMagic, nil
}

// Header returns the image's (complete) header.
func (r *Reader) Header() *Header { return r.h }

// Preliminary returns the header written at the file's start, as the
// creator knew it before reading its source.
func (r *Reader) Preliminary() *Header { return r.prelude }

// NumChunks is the number of chunks.
func (r *Reader) NumChunks() int { return len(r.offs) - 1 }

// ChunkOffset returns chunk i's byte offset in the file and its length.
func (r *Reader) ChunkOffset(i int) (off int64, n int) {
	return r.offs[i], int(r.offs[i+1] - r.offs[i])
}

// Chunk reads chunk i (unverified; see ParseChunk) into a new slice.
func (r *Reader) Chunk(i int) ([]byte, error) { return r.ReadChunk(i, nil) }

// ReadChunk is Chunk reusing buf when it is large enough.
func (r *Reader) ReadChunk(i int, buf []byte) ([]byte, error) {
	if i < 0 || i >= r.NumChunks() {
		return nil, fmt.Errorf("image: chunk %d out of range 0..%d", i, r.NumChunks()-1)
	}
	off, n := r.ChunkOffset(i)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := r.r.ReadAt(buf, off); err != nil {
		return nil, &ChunkError{Index: i, Offset: off, Err: fmt.Errorf("reading: %w", err)}
	}
	return buf, nil
}

// VerifyChunk reads and parses chunk i and checks it belongs here: its
// SHA-256 against the manifest, then its fields against the header.
func (r *Reader) VerifyChunk(i int, buf []byte) (*ChunkHeader, []byte, error) {
	c, err := r.ReadChunk(i, buf)
	if err != nil {
		return nil, nil, err
	}
	if sha256.Sum256(c) != r.m.Hash(i) {
		return nil, nil, &ChunkError{Index: i, Offset: r.offs[i], Err: errManifest("SHA-256 differs from the index")}
	}
	ch, _, err := ParseChunk(c)
	if err == nil {
		err = checkChunkInImage(ch, r.h)
		if err == nil && int(ch.Index) != i {
			err = corruptf("chunk says it is chunk %d", ch.Index)
		}
	}
	if err != nil {
		var ce *ChunkError
		if errors.As(err, &ce) {
			err = ce.Err
		}
		return nil, nil, &ChunkError{Index: i, Offset: r.offs[i], Err: err}
	}
	return ch, c, nil
}

// Close closes the file opened by OpenFile.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// checkChunkInImage checks a parsed chunk against its image's header.
func checkChunkInImage(c *ChunkHeader, h *Header) error {
	if c.ImageID != h.ID {
		return fmt.Errorf("%w: image %s, expected %s", ErrForeignImage, c.ImageID, h.ID)
	}
	if c.DeltaBase != nil {
		return fmt.Errorf("%w: delta chunk", ErrVersion)
	}
	if c.Sealed != h.Encrypted {
		if h.Encrypted {
			return corruptf("plain chunk in an encrypted image")
		}
		return corruptf("sealed chunk in an image that is not encrypted")
	}
	if int(c.RawLen) > h.MaxRawLen() {
		return corruptf("raw length %d over the image's limit %d", c.RawLen, h.MaxRawLen())
	}
	if c.HeaderLen+int(c.PayloadLen) > int(h.ChunkSize) {
		return corruptf("chunk is larger than the image's chunk size %d", h.ChunkSize)
	}
	if h.TargetSize >= 0 && c.Span.End() > h.TargetSize {
		return corruptf("span ends at %d, past the target size %d", c.Span.End(), h.TargetSize)
	}
	if h.Complete {
		if c.Index >= h.ChunkCount {
			return corruptf("index %d, image has %d chunks", c.Index, h.ChunkCount)
		}
		if c.Last != (c.Index == h.ChunkCount-1) {
			return corruptf("last-chunk flag wrong for chunk %d of %d", c.Index, h.ChunkCount)
		}
		if c.Last && c.Span.End() != h.TargetSize {
			return corruptf("last chunk ends at %d, target size is %d", c.Span.End(), h.TargetSize)
		}
	}
	return nil
}
