package image

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
)

// Installing an incremental image over multicast (docs/PROTOCOL.md §3.9):
// the session carries the increment's own chunks (the literal blocks, checked
// against its manifest like any image's) and reference chunks, which the
// sender builds from the base for every other block of the new disk (RefLayout
// says which blocks each holds). A reference chunk is checked block by block
// against the new block map (whose hashes the manifest root, and a signature,
// commit to), and must hold exactly its blocks' used ranges; so a session
// ends in success only with every block of the new map verified on the target.
// A receiver holding the base has most reference chunks already (HeldRef) and
// copies relocated blocks from its own disk (CopyRelocated).

type incrInstall struct {
	bm     *BlockMap
	layout *RefLayout
	have   bitset // reference chunks accepted
	done   bitset // reference chunks written or held
	ndone  int
}

// SetBlockMap gives an installer of an incremental image (InstallConfig.
// Incremental) the new block map, which the caller checked against the
// image's manifest (ManifestChecker.BlockMap): it says which blocks the
// increment's chunks carry and how the reference chunks are laid out. It
// returns the number of reference chunks. Literal and reference chunks are
// refused until it is set.
func (in *Installer) SetBlockMap(bm *BlockMap) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ir := in.incr
	switch {
	case ir == nil:
		return 0, fmt.Errorf("image: SetBlockMap: %s is not an incremental image", in.h.ID)
	case ir.bm != nil:
		if ir.bm != bm {
			return 0, fmt.Errorf("image: SetBlockMap: a block map was set already")
		}
		return ir.layout.Chunks(), nil
	case !bm.IsIncrement() || bm.CheckHeader(in.h) != nil:
		return 0, corruptf("block map: not the incremental image's")
	}
	l, err := bm.RefLayout(in.chunkSize)
	if err != nil {
		return 0, err
	}
	ir.bm, ir.layout = bm, l
	return l.Chunks(), nil
}

// RefChunks is the number of reference chunks, or -1 before SetBlockMap.
func (in *Installer) RefChunks() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.incr == nil || in.incr.layout == nil {
		return -1
	}
	return in.incr.layout.Chunks()
}

// checkLiteral refuses a chunk of an incremental image whose ranges are not
// exactly the literal blocks' ranges of its span. in.mu is held.
func (in *Installer) checkLiteral(ch *ChunkHeader) error {
	ir := in.incr
	if ir.bm == nil {
		return fmt.Errorf("image: chunk %d of an incremental image before its block map", ch.Index)
	}
	sp := ir.bm.Span(int(ch.Index))
	if sp != ch.Span || !slices.Equal(ir.bm.LiteralRanges(nil, int(ch.Index)), ch.Ranges) {
		return corruptf("chunk %d: its ranges are not the block map's literal blocks", ch.Index)
	}
	return nil
}

// putRef verifies and writes reference chunk ch.DeltaBase.Index at once, in
// the caller's goroutine (a session's delivery worker): it must be whole and
// hash right block by block before any byte of it is written.
func (in *Installer) putRef(ctx context.Context, ch *ChunkHeader, chunk []byte) error {
	j := int(ch.DeltaBase.Index)
	in.mu.Lock()
	ir := in.incr
	var err error
	switch {
	case ir == nil:
		err = fmt.Errorf("%w: reference chunk for a full image", ErrForeignImage)
	case ir.bm == nil:
		err = fmt.Errorf("image: reference chunk %d before the block map", j)
	case ch.ImageID != in.h.ID || ch.DeltaBase.Image != in.h.DeltaBase:
		err = fmt.Errorf("%w: reference chunk of image %s on %s", ErrForeignImage, ch.ImageID, ch.DeltaBase.Image)
	case j >= ir.layout.Chunks() || ch.Index != uint32(j) || ch.Last || ch.Count != 0 || ch.Sealed:
		err = corruptf("reference chunk %d of %d: bad index or flags", j, ir.layout.Chunks())
	case ch.HeaderLen+int(ch.PayloadLen) > int(in.h.ChunkSize):
		err = corruptf("reference chunk %d is larger than the chunk size", j)
	case ch.Span != ir.layout.Span(j) || !slices.Equal(ir.layout.Ranges(nil, j), ch.Ranges):
		err = corruptf("reference chunk %d: its ranges are not its blocks'", j)
	case in.size >= 0 && ch.Span.End() > in.size:
		err = fmt.Errorf("%w: reference chunk reaches byte %d, %s holds %d", ErrTargetTooSmall, ch.Span.End(), in.name, in.size)
	}
	if err != nil {
		in.stats.Rejected++
		in.mu.Unlock()
		return &ChunkError{Index: j, Offset: -1, Err: err}
	}
	if ir.have.get(j) {
		in.stats.Duplicates++
		in.mu.Unlock()
		return nil
	}
	ir.have.set(j)
	in.stats.Accepted++
	in.stats.ChunkBytes += int64(len(chunk))
	bm, blocks := ir.bm, ir.layout.Blocks(j)
	in.mu.Unlock()

	fail := func(err error) error {
		in.mu.Lock()
		ir.have.clear(j)
		in.stats.Accepted--
		in.stats.Rejected++
		in.mu.Unlock()
		return &ChunkError{Index: j, Offset: -1, Err: err}
	}
	raw := chunk[ch.HeaderLen:]
	if ch.Codec == CodecZstd {
		var got []byte
		got, err = in.dec.DecodeAll(raw, make([]byte, 0, ch.RawLen))
		if err == nil && len(got) != int(ch.RawLen) {
			err = fmt.Errorf("decompressed %d bytes, expected %d", len(got), ch.RawLen)
		}
		if err != nil {
			return fail(fmt.Errorf("%w: reference chunk %d: %v", ErrCorrupt, j, err))
		}
		raw = got
	}
	var rs []Range
	pos := 0
	for _, i := range blocks {
		rs = bm.Ranges(rs[:0], int(i))
		n := 0
		for _, r := range rs {
			n += int(r.Len)
		}
		if sha256.Sum256(raw[pos:pos+n]) != bm.hashes[i] {
			return fail(fmt.Errorf("%w: reference chunk %d: block %d does not hash to the block map's", ErrManifest, j, bm.block[i]))
		}
		pos += n
	}
	if err := ctx.Err(); err != nil {
		return fail(context.Cause(ctx))
	}
	p := raw
	for _, r := range ir.layout.Ranges(nil, j) {
		if err := in.writeRange(p[:r.Len], r.Off); err != nil {
			err = fmt.Errorf("image: writing reference chunk %d to %s at byte %d: %w", j, in.name, r.Off, err)
			in.mu.Lock()
			if in.fatal == nil {
				in.fatal = err
			}
			in.mu.Unlock()
			return err
		}
		p = p[r.Len:]
	}
	in.mu.Lock()
	ir.done.set(j)
	ir.ndone++
	in.stats.Written++
	in.stats.DataBytes += int64(ch.RawLen)
	in.mu.Unlock()
	return nil
}

// HeldRef records that the target holds every block of reference chunk j
// (RefLayout.Held on the blocks HashTarget and CopyRelocated proved): it
// counts as written without being received. It returns false for a chunk
// already accepted.
func (in *Installer) HeldRef(j int) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ir := in.incr
	if ir == nil || ir.layout == nil || j < 0 || j >= ir.layout.Chunks() {
		return false, fmt.Errorf("image: held reference chunk %d out of range", j)
	}
	if ir.have.get(j) {
		return false, nil
	}
	ir.have.set(j)
	ir.done.set(j)
	ir.ndone++
	in.stats.Accepted++
	in.stats.Held++
	for _, i := range ir.layout.Blocks(j) {
		var rs []Range
		for _, r := range ir.bm.Ranges(rs, int(i)) {
			in.stats.HeldBytes += r.Len
		}
	}
	return true, nil
}

// closeIncr checks that every reference chunk was written or held and, for
// GapZero and GapDiscard, clears the new disk's gaps (the complement of its
// used extents: inside chunk spans they may hold reference blocks, so chunks
// leave them). in.mu is held.
func (in *Installer) closeIncr() error {
	ir := in.incr
	if ir.bm == nil {
		return fmt.Errorf("%w: the incremental image's block map never arrived", ErrIncomplete)
	}
	if n := ir.layout.Chunks(); ir.ndone < n {
		return fmt.Errorf("%w: %d of %d reference chunks not installed (first missing: %v)",
			ErrIncomplete, n-ir.ndone, n, ir.done.missing(n, 8))
	}
	n, err := ClearGaps(in.target, ir.bm, in.h.TargetSize, in.cfg.Gaps)
	in.stats.GapBytes += n
	if err != nil {
		return fmt.Errorf("image: clearing the gaps of %s: %w", in.name, err)
	}
	return nil
}

// ClearGaps gives the gaps of the disk m describes, of size bytes (every byte outside
// m's used extents), mode's treatment on target: zeros written (GapZero), or discarded
// where the target can (GapDiscard, else zeros); nothing for GapLeave. It returns the
// gap bytes treated. An incremental installation uses it once at the end, since an
// increment's chunk spans hold reference blocks besides its own.
func ClearGaps(target io.WriterAt, m *BlockMap, size int64, mode GapMode) (int64, error) {
	if mode == GapLeave {
		return 0, nil
	}
	var pos, n int64
	for _, e := range append(slices.Clone(m.extents), Range{Off: size}) {
		if e.Off > pos {
			if err := fillGap(target, mode, pos, e.Off-pos); err != nil {
				return n, fmt.Errorf("at byte %d: %w", pos, err)
			}
			n += e.Off - pos
		}
		pos = e.End()
	}
	return n, nil
}
