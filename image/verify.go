package image

import (
	"context"
	"io"
)

// discard is an install target that keeps nothing, for verification.
type discard int64

func (d discard) Size() int64                          { return int64(d) }
func (d discard) Name() string                         { return "verification" }
func (discard) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// Verify checks a whole image file: every chunk's checksums and bounds,
// that it decompresses to its raw length, and that the chunks' spans tile
// the target. It decompresses on cfg.Workers goroutines and writes nothing.
func Verify(ctx context.Context, r *Reader, cfg InstallConfig) error {
	h := r.Header()
	cfg.Gaps = GapLeave
	in, err := NewInstaller(discard(max(h.TargetSize, 0)), h, cfg)
	if err != nil {
		return err
	}
	var buf []byte
	next := int64(0)
	for i := range r.NumChunks() {
		ch, c, err := r.VerifyChunk(i, buf)
		if err == nil && ch.Span.Off != next {
			err = &ChunkError{Index: i, Offset: r.offs[i], Err: corruptf("span starts at %d, previous chunk ended at %d", ch.Span.Off, next)}
		}
		if err == nil {
			err = in.Put(ctx, c)
		}
		if err != nil {
			in.Close()
			return err
		}
		buf = c
		next = ch.Span.End()
	}
	return in.Close()
}

// VerifyStream is Verify for an image file read front to back from r (a
// pipe). It returns the image's header.
func VerifyStream(ctx context.Context, r io.Reader, cfg InstallConfig) (*Header, error) {
	cfg.Gaps = GapLeave
	var in *Installer
	next := int64(0)
	h, err := ScanStream(ctx, r, func(pre *Header) error {
		var err error
		in, err = NewInstaller(discard(-1), pre, cfg)
		return err
	}, func(i int, c []byte) error {
		ch, _, err := ParseChunk(c)
		if err == nil && (int(ch.Index) != i || ch.Span.Off != next) {
			err = &ChunkError{Index: i, Offset: -1, Err: corruptf("chunk out of place (index %d, span at %d, expected %d)", ch.Index, ch.Span.Off, next)}
		}
		if err != nil {
			return err
		}
		next = ch.Span.End()
		return in.Put(ctx, c)
	})
	if in == nil {
		return nil, err
	}
	if err == nil {
		err = in.SetHeader(h)
	}
	if cerr := in.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}
