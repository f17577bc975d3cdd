package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
)

// Image file layout (docs/FORMAT.md, "Image file"):
//
//	prologue: "DSIF" ver rsv[3] hdrLen:u32 header(preliminary)
//	chunk 0, chunk 1, ... back to back
//	index:    "DSIX" ver flags rsv[2] count:u32 hdrLen:u32 count*(offset:u64 sha256[32]) header(final) [signature]
//	trailer:  "DSTR" ver rsv[3] indexOff:u64 indexLen:u64 xxhash64(index):u64
//
// Everything is written front to back, so a pipe works as the destination;
// the trailer at the very end lets a reader find any chunk without reading
// the ones before it.
const (
	prologueFixed = 12
	indexFixed    = 16
	indexEntryLen = 8 + hashLen
	trailerLen    = 32

	iflagSigned = 1 << 0
)

// Create writes an image file of src to dst (which need not be seekable)
// and returns its final header. The index holds the manifest and, with
// cfg.Sign, the signature (also in the returned stats).
func Create(ctx context.Context, src *Source, dst io.Writer, cfg CreateConfig) (*Header, CreateStats, error) {
	w := bufio.NewWriterSize(dst, 1<<20)
	var off int64
	var offsets []uint64
	write := func(b []byte) error {
		n, err := w.Write(b)
		off += int64(n)
		return err
	}
	userStart := cfg.Start
	cfg.Start = func(h *Header) error {
		p, err := appendPrologue(nil, h)
		if err != nil {
			return err
		}
		if err := write(p); err != nil {
			return fmt.Errorf("image: writing image: %w", err)
		}
		if userStart != nil {
			return userStart(h)
		}
		return nil
	}
	h, st, err := CreateChunks(ctx, src, cfg, func(i int, c []byte) error {
		offsets = append(offsets, uint64(off))
		if err := write(c); err != nil {
			return fmt.Errorf("image: writing image: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	idx, err := appendIndex(nil, offsets, st.Manifest, h, st.Signature)
	if err != nil {
		return nil, st, err
	}
	if err := write(appendTrailer(idx, off)); err != nil {
		return nil, st, fmt.Errorf("image: writing image: %w", err)
	}
	if err := w.Flush(); err != nil {
		return nil, st, fmt.Errorf("image: writing image: %w", err)
	}
	return h, st, nil
}

// appendPrologue appends an image file's prologue holding the preliminary
// header pre.
func appendPrologue(dst []byte, pre *Header) ([]byte, error) {
	hb, err := pre.MarshalBinary()
	if err != nil {
		return nil, err
	}
	dst = append(dst, fileMagic[:]...)
	dst = append(dst, formatVersion, 0, 0, 0)
	dst = le.AppendUint32(dst, uint32(len(hb)))
	return append(dst, hb...), nil
}

// appendIndex appends an image file's index: the chunk offsets and
// hashes, the complete header h and the signature, if any.
func appendIndex(dst []byte, offsets []uint64, m *Manifest, h *Header, sig *Signature) ([]byte, error) {
	hb, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if !h.Complete || int(h.ChunkCount) != len(offsets) || m == nil || m.Len() != len(offsets) || m.Root() != h.ManifestRoot {
		return nil, errors.New("image: internal error: index header does not match the chunks or the manifest")
	}
	var flags byte
	var sb []byte
	if sig != nil {
		if err := sig.Verify(h); err != nil {
			return nil, err
		}
		if sb, err = sig.MarshalBinary(); err != nil {
			return nil, err
		}
		flags |= iflagSigned
	}
	dst = append(dst, indexMagic[:]...)
	dst = append(dst, formatVersion, flags, 0, 0)
	dst = le.AppendUint32(dst, uint32(len(offsets)))
	dst = le.AppendUint32(dst, uint32(len(hb)))
	for i, o := range offsets {
		dst = le.AppendUint64(dst, o)
		dst = append(dst, m.hashes[i*hashLen:(i+1)*hashLen]...)
	}
	dst = append(dst, hb...)
	dst = append(dst, sb...)
	return append(dst, m.mapb...), nil
}

// appendTrailer returns idx followed by the trailer for an index that
// starts at file offset at.
func appendTrailer(idx []byte, at int64) []byte {
	sum := xxhash.Sum64(idx)
	n := len(idx)
	idx = append(idx, trailerMagic[:]...)
	idx = append(idx, formatVersion, 0, 0, 0)
	idx = le.AppendUint64(idx, uint64(at))
	idx = le.AppendUint64(idx, uint64(n))
	return le.AppendUint64(idx, sum)
}

// parsePrologue decodes the file prologue at the start of b (which must
// hold at least prologueFixed bytes) and returns the prologue length.
func prologueLen(b []byte) (int, error) {
	if len(b) < prologueFixed {
		return 0, fmt.Errorf("%w: %d bytes, not an image file", ErrTruncated, len(b))
	}
	if [4]byte(b[0:4]) != fileMagic {
		return 0, corruptf("not a Discus image file (magic %q)", b[0:4])
	}
	if b[4] != formatVersion {
		return 0, fmt.Errorf("%w: image file version %d", ErrVersion, b[4])
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return 0, corruptf("image file prologue reserved bytes not zero")
	}
	hl := le.Uint32(b[8:])
	if hl > headerMaxLen {
		return 0, corruptf("image file header length %d", hl)
	}
	return prologueFixed + int(hl), nil
}

// fileIndex is a decoded index.
type fileIndex struct {
	h    *Header
	offs []int64 // count+1: chunk i is [offs[i], offs[i+1])
	m    *Manifest
	sig  *Signature
	bm   *BlockMap
}

// parseIndex decodes an index block and checks it against the file: count
// offsets, strictly increasing from first, each chunk at most chunkSize
// bytes, the last ending at indexOff; the chunk hashes give the header's
// manifest root; a signature, if any, verifies (trust is the caller's
// business).
func parseIndex(b []byte, first, indexOff int64) (*fileIndex, error) {
	if len(b) < indexFixed || [4]byte(b[0:4]) != indexMagic {
		return nil, corruptf("image index: bad magic")
	}
	if b[4] != formatVersion {
		return nil, fmt.Errorf("%w: image index version %d", ErrVersion, b[4])
	}
	flags := b[5]
	if flags&^iflagSigned != 0 || b[6] != 0 || b[7] != 0 {
		return nil, corruptf("image index: unknown flags or reserved bytes not zero")
	}
	count := int64(le.Uint32(b[8:]))
	hl := int64(le.Uint32(b[12:]))
	sl := int64(0)
	if flags&iflagSigned != 0 {
		sl = sigBlockLen
	}
	// All int64: count < 2^32 and hl < 2^32 cannot overflow.
	if int64(len(b)) < indexFixed+indexEntryLen*count+hl+sl {
		return nil, corruptf("image index: length %d does not match %d chunks", len(b), count)
	}
	hoff := indexFixed + indexEntryLen*count
	h, err := ParseHeader(b[hoff : hoff+hl])
	if err != nil {
		return nil, fmt.Errorf("image index header: %w", err)
	}
	if !h.Complete || int64(h.ChunkCount) != count {
		return nil, corruptf("image index: header says %d chunks, index %d", h.ChunkCount, count)
	}
	ix := &fileIndex{h: h, offs: make([]int64, count+1)}
	hashes := make([]byte, 0, hashLen*count)
	for i := range count {
		e := b[indexFixed+indexEntryLen*i:]
		ix.offs[i] = int64(le.Uint64(e))
		hashes = append(hashes, e[8:indexEntryLen]...)
	}
	ix.offs[count] = indexOff
	if ix.offs[0] != first {
		return nil, corruptf("image index: first chunk at %d, expected %d", ix.offs[0], first)
	}
	for i := range count {
		if n := ix.offs[i+1] - ix.offs[i]; n < chunkMinLen || n > int64(h.ChunkSize) {
			return nil, &ChunkError{Index: int(i), Offset: ix.offs[i], Err: corruptf("index gives chunk length %d", n)}
		}
	}
	if int64(len(b)) != indexFixed+indexEntryLen*count+hl+sl+int64(h.BlockMapLen) {
		return nil, corruptf("image index: length %d does not match %d chunks and the block map", len(b), count)
	}
	var mapb []byte
	if h.BlockMapLen != 0 {
		mapb = b[hoff+hl+sl:]
		if ix.bm, err = ParseBlockMap(mapb); err != nil {
			return nil, fmt.Errorf("image index: %w", err)
		}
		if err := ix.bm.CheckHeader(h); err != nil {
			return nil, fmt.Errorf("image index: %w", err)
		}
	}
	ix.m = newManifest(h.ChunkSize, hashes, mapb)
	if ix.m.Root() != h.ManifestRoot {
		return nil, fmt.Errorf("%w: the index's chunk hashes do not give the header's manifest root", ErrManifest)
	}
	if sl > 0 {
		if ix.sig, err = ParseSignature(b[hoff+hl : hoff+hl+sl]); err != nil {
			return nil, fmt.Errorf("image index: %w", err)
		}
		if err := ix.sig.Verify(h); err != nil {
			return nil, fmt.Errorf("image index: %w", err)
		}
	}
	return ix, nil
}
