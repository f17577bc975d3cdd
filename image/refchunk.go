package image

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Reference chunks (docs/PROTOCOL.md §3.9) carry an incremental image's
// reference blocks, rebuilt from its base, to receivers that lack them: a
// sender holding both images builds them, receivers check them against the
// new block map (Installer, install_incr.go). Chunk j holds the blocks
// RefLayout assigns it: its ranges are theirs, its span runs from its first
// used byte to its last, its DELTA field names the base and j, and its index
// is j. Its bytes are compressed with zstd, or stored when that does not
// shrink them, so it always fits the chunk size.

// blockBytes appends new block i's used bytes, rebuilt and checked, to dst.
func (d *IncrementalDisk) blockBytes(dst []byte, i int) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.rebuild(i); err != nil {
		return dst, err
	}
	lo := d.nm.block[i] << d.nm.shift
	for _, r := range d.nrs {
		dst = append(dst, d.block[r.Off-lo:r.End()-lo]...)
	}
	return dst, nil
}

// BuildRefChunks builds the reference chunks of the incremental image incr
// on base and hands each to emit, from one goroutine, in any order; it returns
// their number. Every block is checked against the new block map as it is
// rebuilt (a damaged increment or base is an error wrapping ErrCorrupt).
// level is the zstd level (0: 3); workers compress in parallel (0: GOMAXPROCS).
func BuildRefChunks(ctx context.Context, incr, base *Reader, level, workers int, emit func(j int, chunk []byte) error) (int, error) {
	nm := incr.BlockMap()
	if nm == nil || !nm.IsIncrement() {
		return 0, fmt.Errorf("%w: %s is not an incremental image with a block map", ErrWrongBase, incr.Header().ID)
	}
	h := incr.Header()
	layout, err := nm.RefLayout(int(h.ChunkSize))
	if err != nil {
		return 0, err
	}
	disk, err := NewIncrementalDisk(incr, base)
	if err != nil {
		return 0, err
	}
	defer disk.Close()
	if level == 0 {
		level = 3
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(workers),
		zstd.WithWindowSize(zstdWindow(int(h.ChunkSize))))
	if err != nil {
		return 0, err
	}
	defer enc.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type rawJob struct {
		j   int
		raw []byte
	}
	type doneJob struct {
		j     int
		chunk []byte
	}
	raws := make(chan rawJob, workers)
	outs := make(chan doneJob, workers)
	var rerr error
	go func() { // the disk is read in block order by one goroutine (it serializes reads)
		defer close(raws)
		for j := range layout.Chunks() {
			var raw []byte
			for _, i := range layout.Blocks(j) {
				var e error
				if raw, e = disk.blockBytes(raw, int(i)); e != nil {
					rerr = e
					cancel(e)
					return
				}
			}
			select {
			case raws <- rawJob{j, raw}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rj := range raws {
				c := encodeRefChunk(h, layout, rj.j, rj.raw, enc)
				select {
				case outs <- doneJob{rj.j, c}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(outs) }()
	for dj := range outs {
		if err := emit(dj.j, dj.chunk); err != nil {
			cancel(err)
			for range outs {
			}
			return 0, err
		}
	}
	if rerr != nil {
		return 0, rerr
	}
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return layout.Chunks(), nil
}

// encodeRefChunk encodes reference chunk j of raw bytes raw.
func encodeRefChunk(h *Header, layout *RefLayout, j int, raw []byte, enc *zstd.Encoder) []byte {
	ch := &ChunkHeader{
		ImageID:   h.ID,
		Index:     uint32(j),
		Codec:     CodecZstd,
		Span:      layout.Span(j),
		Ranges:    layout.Ranges(nil, j),
		RawLen:    uint32(len(raw)),
		DeltaBase: &DeltaRef{Image: h.DeltaBase, Index: uint32(j)},
	}
	payload := enc.EncodeAll(raw, nil)
	if len(payload) >= len(raw) {
		ch.Codec, payload = CodecNone, raw
	}
	return appendChunk(nil, ch, payload)
}
