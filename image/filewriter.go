package image

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// FileWriter keeps an image as an image file, taking its chunks in any
// order — what a multicast receiver gets — instead of installing them.
//
// The format wants the chunks in index order, but their lengths are known
// only as they arrive. So Put appends each verified chunk to a spool file
// next to the destination; Close writes the image file from the spool in
// index order (copy_file_range where the kernel can), syncs it, renames it
// into place and removes the spool. Until Close succeeds, nothing exists
// at the destination path, so an interrupted receive never leaves a file
// that looks like an image.
//
// Put checks each chunk completely — checksums, bounds against the header,
// and that it decompresses to its raw length (for an encrypted image, which
// a FileWriter keeps sealed without its key, only the sealed form) — so a
// bad chunk gets a *ChunkError and can be fetched again. The file's index
// holds the manifest built from the chunks kept; when the header already
// carries a ManifestRoot, Close refuses chunks that do not give it. A FileWriter is a ChunkSink for
// package mcast, like an Installer.
type FileWriter struct {
	path string
	dir  string

	mu sync.Mutex
	chunkBook
	pre      *Header // the preliminary header for the file's prologue
	spool    *os.File
	spoolAt  int64
	at       []spoolSpan // by chunk index; n == 0: missing
	dec      *zstd.Decoder
	raw      []byte
	closed   bool
	sig      *Signature // written into the index if set
	blockMap *BlockMap  // the image's block map (SetBlockMap), needed if the header has one
}

type spoolSpan struct {
	off  int64
	n    int
	raw  uint32
	hash [32]byte // SHA-256 of the encoded chunk: its manifest entry
}

// NewFileWriter prepares to write the image described by h (preliminary or
// complete) to path. The spool is created in path's directory at once, so
// an unwritable destination fails before any chunk arrives.
func NewFileWriter(path string, h *Header) (*FileWriter, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	if !h.DeltaBase.IsZero() {
		return nil, fmt.Errorf("%w: image %s is an increment (on base %s): it can be installed, not kept as an image file", ErrVersion, h.ID, h.DeltaBase)
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("image: %s: not a regular file", path)
	}
	dir := filepath.Dir(path)
	spool, err := os.CreateTemp(dir, "."+filepath.Base(path)+".spool-*")
	if err != nil {
		return nil, fmt.Errorf("image: spool for %s: %w", path, err)
	}
	// Unlinked at once: the spool vanishes however the process ends.
	os.Remove(spool.Name())
	dec, err := newChunkDecoder(h, 1)
	if err != nil {
		spool.Close()
		return nil, err
	}
	w := &FileWriter{path: path, dir: dir, chunkBook: newChunkBook(h, "kept", "received"), pre: preliminary(h), spool: spool, dec: dec}
	return w, nil
}

// preliminary is the header as a creator knew it before reading its
// source: what an image file's prologue holds.
func preliminary(h *Header) *Header {
	p := h.clone()
	if p.Complete {
		p.Complete, p.ChunkCount, p.ManifestRoot, p.BlockMapLen = false, 0, [32]byte{}, 0
		p.DataBytes, p.ZeroBytes, p.UnusedBytes, p.StoredBytes = 0, 0, 0, 0
	}
	return p
}

// Put verifies one encoded chunk and spools it. A bad chunk gets a
// *ChunkError and nothing is kept; a duplicate is ignored. chunk may be
// reused once Put returns. Put is safe for concurrent use.
func (w *FileWriter) Put(ctx context.Context, chunk []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch, payload, err := ParseChunk(chunk)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if err != nil {
		w.stats.Rejected++
		return err
	}
	if dup, err := w.admit(ch, nil); err != nil || dup {
		if dup {
			w.stats.Duplicates++
		}
		return err
	}
	if !ch.Sealed {
		if err := w.decodes(ch, payload); err != nil {
			return w.reject(ch, err)
		}
	}
	if _, err := w.spool.WriteAt(chunk, w.spoolAt); err != nil {
		return fmt.Errorf("image: spooling chunk %d for %s: %w", ch.Index, w.path, err)
	}
	i := int(ch.Index)
	for len(w.at) <= i {
		w.at = append(w.at, make([]spoolSpan, max(len(w.at), 64))...)
	}
	w.at[i] = spoolSpan{off: w.spoolAt, n: len(chunk), raw: ch.RawLen, hash: sha256.Sum256(chunk)}
	w.spoolAt += int64(len(chunk))
	w.accept(ch, len(chunk))
	w.stats.Written++
	w.stats.DataBytes += int64(ch.RawLen)
	return nil
}

// decodes checks that a payload decompresses to its raw length (and its
// SHA-256, when present). w.mu is held.
func (w *FileWriter) decodes(ch *ChunkHeader, payload []byte) error {
	raw := payload
	if ch.Codec == CodecZstd {
		if cap(w.raw) < int(ch.RawLen) {
			w.raw = make([]byte, ch.RawLen)
		}
		var err error
		raw, err = w.dec.DecodeAll(payload, w.raw[:0:ch.RawLen])
		if err == nil && len(raw) != int(ch.RawLen) {
			err = fmt.Errorf("decompressed %d bytes, expected %d", len(raw), ch.RawLen)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	if ch.SHA256 != nil && sha256.Sum256(raw) != *ch.SHA256 {
		return corruptf("SHA-256 mismatch")
	}
	return nil
}

// SetHeader replaces the header with the image's final one (same image,
// now complete). The final header is what the file's index records.
func (w *FileWriter) SetHeader(h *Header) error {
	if err := h.validate(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkHeader(h); err != nil {
		return err
	}
	if w.sig != nil && !h.Complete {
		return errors.New("image: a signed image needs its complete header")
	}
	if w.sig != nil {
		if err := w.sig.Verify(h); err != nil {
			return err
		}
	}
	w.h = h.clone()
	return nil
}

// SetSignature gives the image's signature (from a multicast announce), to
// be kept in the file's index. It must verify against the complete header,
// given now or later by SetHeader.
func (w *FileWriter) SetSignature(sig *Signature) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sig != nil && w.h.Complete {
		if err := sig.Verify(w.h); err != nil {
			return err
		}
	}
	w.sig = sig
	return nil
}

// SetBlockMap gives the image's block map (a receiver has it from the
// session's manifest parts): the index must hold it when the final header
// says the image has one, or the manifest root could not be matched.
func (w *FileWriter) SetBlockMap(bm *BlockMap) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.blockMap = bm
}

// Header returns the header the writer works with.
func (w *FileWriter) Header() *Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.h.clone()
}

// Missing lists up to max chunk indexes not received yet (all if max <= 0).
func (w *FileWriter) Missing(max int) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.missing(max)
}

// Stats returns a snapshot of the chunks kept so far (Written = Accepted:
// a chunk is on disk when Put returns).
func (w *FileWriter) Stats() InstallStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snapshot()
}

// Close writes the image file if every chunk arrived and fails otherwise
// (ErrIncomplete, naming the missing chunks), leaving nothing at the
// destination. Either way the spool is gone afterwards.
func (w *FileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	defer w.spool.Close()
	defer w.dec.Close()
	h, err := w.final()
	if err != nil {
		return err
	}
	if err := incomplete(&w.have, h); err != nil {
		return err
	}
	return w.writeFile(h)
}

// Abort gives up: the spool is removed and nothing is written. It is a
// no-op after Close.
func (w *FileWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.spool.Close()
		w.dec.Close()
	}
}

// final returns the complete header for the index: the one given by
// SetHeader or, if only the last chunk told the count, one completed from
// it with statistics counted from the chunks. w.mu is held.
func (w *FileWriter) final() (*Header, error) {
	h, fromLast, err := w.chunkBook.final()
	if err != nil || !fromLast {
		return h, err
	}
	if w.sig != nil {
		return nil, fmt.Errorf("%w: the signed image's complete header never arrived", ErrIncomplete)
	}
	h.DataBytes, h.StoredBytes = w.stats.DataBytes, w.stats.ChunkBytes
	// Which gap bytes were zero and which unused is not in the chunks.
	h.ZeroBytes, h.UnusedBytes = 0, max(h.TargetSize-h.DataBytes, 0)
	// ManifestRoot stays zero here: writeFile sets the one the chunks give.
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// writeFile writes the image file from the spool in index order to a
// temporary file beside the destination, then renames it into place.
// w.mu is held.
func (w *FileWriter) writeFile(h *Header) (err error) {
	out, err := os.CreateTemp(w.dir, "."+filepath.Base(w.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("image: writing %s: %w", w.path, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
			err = fmt.Errorf("image: writing %s: %w", w.path, err)
		}
	}()
	pro, err := appendPrologue(nil, w.pre)
	if err != nil {
		return err
	}
	if _, err := out.Write(pro); err != nil {
		return err
	}
	off := int64(len(pro))
	offsets := make([]uint64, h.ChunkCount)
	hashes := make([]byte, 0, hashLen*len(offsets))
	for i := range offsets {
		hashes = append(hashes, w.at[i].hash[:]...)
	}
	if h.BlockMapLen != 0 && w.blockMap == nil && !h.Encrypted {
		// Not given: the map is a function of the chunks' plain bytes.
		if w.blockMap, err = w.rebuildMap(h); err != nil {
			return err
		}
	}
	if h.BlockMapLen != 0 && (w.blockMap == nil || w.blockMap.CheckHeader(h) != nil) {
		return fmt.Errorf("%w: the image's block map was not given (or is not this image's)", ErrIncomplete)
	}
	var mapb []byte
	if h.BlockMapLen != 0 {
		mapb = w.blockMap.raw
	}
	m := newManifest(h.ChunkSize, hashes, mapb)
	if h.ManifestRoot == ([32]byte{}) {
		h = h.clone()
		h.ManifestRoot = m.Root()
	} else if h.ManifestRoot != m.Root() {
		return fmt.Errorf("%w: the chunks received do not give the header's manifest root", ErrManifest)
	}
	for i := range offsets {
		s := w.at[i]
		offsets[i] = uint64(off)
		// io.Copy from a SectionReader of an *os.File into an *os.File
		// lets the kernel copy (copy_file_range) without a user buffer.
		if _, err := io.Copy(out, io.NewSectionReader(w.spool, s.off, int64(s.n))); err != nil {
			return err
		}
		off += int64(s.n)
	}
	idx, err := appendIndex(nil, offsets, m, h, w.sig)
	if err != nil {
		return err
	}
	if _, err := out.Write(appendTrailer(idx, off)); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), w.path)
}

// rebuildMap computes the block map of header h from the spooled chunks
// (not sealed), in index order. w.mu is held.
func (w *FileWriter) rebuildMap(h *Header) (*BlockMap, error) {
	mb, err := newMapBuilder(h.BlockSize, nil)
	if err != nil {
		return nil, err
	}
	var buf []byte
	for i := range int(h.ChunkCount) {
		s := w.at[i]
		if cap(buf) < s.n {
			buf = make([]byte, s.n)
		}
		c := buf[:s.n]
		if _, err := w.spool.ReadAt(c, s.off); err != nil {
			return nil, err
		}
		ch, payload, err := ParseChunk(c)
		if err != nil {
			return nil, err
		}
		if err := w.decodes(ch, payload); err != nil {
			return nil, err
		}
		raw := payload
		if ch.Codec == CodecZstd {
			raw = w.raw[:ch.RawLen]
		}
		for _, rg := range ch.Ranges {
			mb.add(rg.Off, raw[:rg.Len])
			raw = raw[rg.Len:]
		}
		mb.span(ch.Span.End())
	}
	if bm := mb.done(); bm != nil {
		return bm, nil
	}
	return nil, fmt.Errorf("%w: block map too large", ErrCorrupt)
}
