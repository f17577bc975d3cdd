package image

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

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

// RefBuilder builds the reference chunks of an incremental image on its base one
// at a time, on demand: a sender serves them as receivers ask, so a session whose
// receivers hold the base builds few of them. Safe for concurrent use (reads of the
// base are serialized, compression is not).
type RefBuilder struct {
	h      *Header
	layout *RefLayout
	disk   *IncrementalDisk
	enc    *zstd.Encoder
}

// NewRefBuilder prepares to build the reference chunks of incr on base (at zstd
// level, 0: 3), after checking that base is the image incr names (ErrWrongBase).
func NewRefBuilder(incr, base *Reader, level int) (*RefBuilder, error) {
	nm := incr.BlockMap()
	if nm == nil || !nm.IsIncrement() {
		return nil, fmt.Errorf("%w: %s is not an incremental image with a block map", ErrWrongBase, incr.Header().ID)
	}
	h := incr.Header()
	layout, err := nm.RefLayout(int(h.ChunkSize))
	if err != nil {
		return nil, err
	}
	disk, err := NewIncrementalDisk(incr, base)
	if err != nil {
		return nil, err
	}
	if level == 0 {
		level = 3
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithWindowSize(zstdWindow(int(h.ChunkSize))))
	if err != nil {
		disk.Close()
		return nil, err
	}
	return &RefBuilder{h: h, layout: layout, disk: disk, enc: enc}, nil
}

// Chunks is the number of reference chunks.
func (b *RefBuilder) Chunks() int { return b.layout.Chunks() }

// Chunk builds reference chunk j: its blocks rebuilt from the increment or the
// base, each checked against the new block map (an error wrapping ErrCorrupt if one
// does not hash right), then compressed.
func (b *RefBuilder) Chunk(j int) ([]byte, error) {
	if j < 0 || j >= b.layout.Chunks() {
		return nil, fmt.Errorf("image: reference chunk %d of %d", j, b.layout.Chunks())
	}
	var raw []byte
	for _, i := range b.layout.Blocks(j) {
		var err error
		if raw, err = b.disk.blockBytes(raw, int(i)); err != nil {
			return nil, err
		}
	}
	return encodeRefChunk(b.h, b.layout, j, raw, b.enc), nil
}

// Close releases the base's and the increment's disk readers (not the images).
func (b *RefBuilder) Close() error {
	b.enc.Close()
	return b.disk.Close()
}

// BuildRefChunks builds every reference chunk of the incremental image incr on
// base and hands each to emit, from one goroutine, in any order; it returns their
// number. level is the zstd level (0: 3); workers build in parallel (0: GOMAXPROCS).
func BuildRefChunks(ctx context.Context, incr, base *Reader, level, workers int, emit func(j int, chunk []byte) error) (int, error) {
	b, err := NewRefBuilder(incr, base, level)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type done struct {
		j   int
		c   []byte
		err error
	}
	var next atomic.Int64
	outs := make(chan done, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				j := int(next.Add(1) - 1)
				if j >= b.Chunks() {
					return
				}
				c, err := b.Chunk(j)
				select {
				case outs <- done{j, c, err}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(outs) }()
	var first error
	for d := range outs {
		if first == nil {
			first = d.err
			if first == nil {
				first = emit(d.j, d.c)
			}
			if first != nil {
				cancel()
			}
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		return 0, first
	}
	return b.Chunks(), nil
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
