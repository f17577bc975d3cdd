package image

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
)

// Image file layout (docs/FORMAT.md, "Image file"):
//
//	prologue: "DSIF" ver rsv[3] hdrLen:u32 header(preliminary)
//	chunk 0, chunk 1, ... back to back
//	index:    "DSIX" ver rsv[3] count:u32 hdrLen:u32 offsets:count*u64 header(final)
//	trailer:  "DSTR" ver rsv[3] indexOff:u64 indexLen:u64 xxhash64(index):u64
//
// Everything is written front to back, so a pipe works as the destination;
// the trailer at the very end lets a reader find any chunk without reading
// the ones before it.
const (
	prologueFixed = 12
	indexFixed    = 16
	trailerLen    = 32
)

// Create writes an image file of src to dst (which need not be seekable)
// and returns its final header.
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
		hb, err := h.MarshalBinary()
		if err != nil {
			return err
		}
		p := make([]byte, prologueFixed, prologueFixed+len(hb))
		copy(p, fileMagic[:])
		p[4] = formatVersion
		le.PutUint32(p[8:], uint32(len(hb)))
		if err := write(append(p, hb...)); err != nil {
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
	hb, err := h.MarshalBinary()
	if err != nil {
		return nil, st, err
	}
	idx := make([]byte, indexFixed, indexFixed+8*len(offsets)+len(hb))
	copy(idx, indexMagic[:])
	idx[4] = formatVersion
	le.PutUint32(idx[8:], uint32(len(offsets)))
	le.PutUint32(idx[12:], uint32(len(hb)))
	for _, o := range offsets {
		idx = le.AppendUint64(idx, o)
	}
	idx = append(idx, hb...)
	tr := make([]byte, 8, trailerLen)
	copy(tr, trailerMagic[:])
	tr[4] = formatVersion
	tr = le.AppendUint64(tr, uint64(off))
	tr = le.AppendUint64(tr, uint64(len(idx)))
	tr = le.AppendUint64(tr, xxhash.Sum64(idx))
	if err := write(idx); err != nil {
		return nil, st, fmt.Errorf("image: writing image: %w", err)
	}
	if err := write(tr); err != nil {
		return nil, st, fmt.Errorf("image: writing image: %w", err)
	}
	if err := w.Flush(); err != nil {
		return nil, st, fmt.Errorf("image: writing image: %w", err)
	}
	return h, st, nil
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

// parseIndex decodes an index block and checks it against the file: count
// offsets, strictly increasing from first, each chunk at most chunkSize
// bytes, the last ending at indexOff.
func parseIndex(b []byte, first, indexOff int64) (*Header, []int64, error) {
	if len(b) < indexFixed || [4]byte(b[0:4]) != indexMagic || b[4] != formatVersion {
		return nil, nil, corruptf("image index: bad magic or version")
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, nil, corruptf("image index reserved bytes not zero")
	}
	count := int64(le.Uint32(b[8:]))
	hl := int64(le.Uint32(b[12:]))
	if int64(len(b)) != indexFixed+8*count+hl {
		return nil, nil, corruptf("image index: length %d does not match %d chunks", len(b), count)
	}
	h, err := ParseHeader(b[indexFixed+8*count:])
	if err != nil {
		return nil, nil, fmt.Errorf("image index header: %w", err)
	}
	if !h.Complete || int64(h.ChunkCount) != count {
		return nil, nil, corruptf("image index: header says %d chunks, index %d", h.ChunkCount, count)
	}
	offs := make([]int64, count+1)
	for i := range count {
		offs[i] = int64(le.Uint64(b[indexFixed+8*i:]))
	}
	offs[count] = indexOff
	if offs[0] != first {
		return nil, nil, corruptf("image index: first chunk at %d, expected %d", offs[0], first)
	}
	for i := range count {
		if n := offs[i+1] - offs[i]; n < chunkMinLen || n > int64(h.ChunkSize) {
			return nil, nil, &ChunkError{Index: int(i), Offset: offs[i], Err: corruptf("index gives chunk length %d", n)}
		}
	}
	return h, offs, nil
}
