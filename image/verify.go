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

// Verify checks a whole image file: every chunk's SHA-256 against the
// manifest, its checksums and bounds, that it decompresses to its raw
// length, and that the chunks' spans tile the target. It decompresses on
// cfg.Workers goroutines and writes nothing. An encrypted image without
// cfg.Decrypt is checked as it is stored (structure, manifest, checksums),
// its payloads left sealed; with a key of another ID it fails (ErrKey).
func Verify(ctx context.Context, r *Reader, cfg InstallConfig) error {
	h := r.Header()
	cfg.Gaps = GapLeave
	if h.Encrypted && cfg.Decrypt == nil {
		return verifySealed(ctx, r)
	}
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

// verifySealed is Verify without decryption: every check but opening and
// decompressing the payloads.
func verifySealed(ctx context.Context, r *Reader) error {
	var buf []byte
	next := int64(0)
	for i := range r.NumChunks() {
		if err := ctx.Err(); err != nil {
			return err
		}
		ch, c, err := r.VerifyChunk(i, buf)
		if err != nil {
			return err
		}
		if ch.Span.Off != next {
			return &ChunkError{Index: i, Offset: r.offs[i], Err: corruptf("span starts at %d, previous chunk ended at %d", ch.Span.Off, next)}
		}
		buf = c
		next = ch.Span.End()
	}
	return nil
}

// VerifyStream is Verify for an image file read front to back from r (a
// pipe). It returns the image's header.
func VerifyStream(ctx context.Context, r io.Reader, cfg InstallConfig) (*Header, error) {
	h, _, err := VerifyStreamSigned(ctx, r, cfg)
	return h, err
}

// VerifyStreamSigned is VerifyStream that also returns the signature (nil
// if unsigned; valid for its own key, trust is the caller's check).
func VerifyStreamSigned(ctx context.Context, r io.Reader, cfg InstallConfig) (*Header, *Signature, error) {
	cfg.Gaps = GapLeave
	var in *Installer
	next := int64(0)
	var pre *Header
	sealed := false // encrypted and no key: check as stored
	h, sig, err := ScanStreamSigned(ctx, r, func(p *Header) error {
		pre = p
		if p.Encrypted && cfg.Decrypt == nil {
			sealed = true
			return nil
		}
		var err error
		in, err = NewInstaller(discard(-1), p, cfg)
		return err
	}, func(i int, c []byte) error {
		ch, _, err := ParseChunk(c)
		if err == nil && (int(ch.Index) != i || ch.Span.Off != next) {
			err = &ChunkError{Index: i, Offset: -1, Err: corruptf("chunk out of place (index %d, span at %d, expected %d)", ch.Index, ch.Span.Off, next)}
		}
		if err == nil && sealed {
			if err = checkChunkInImage(ch, pre); err != nil {
				err = &ChunkError{Index: i, Offset: -1, Err: err}
			}
		}
		if err != nil {
			return err
		}
		next = ch.Span.End()
		if sealed {
			return nil
		}
		return in.Put(ctx, c)
	})
	if sealed && err == nil && next != h.TargetSize {
		err = corruptf("chunks end at %d, target size is %d", next, h.TargetSize)
	}
	if in == nil {
		if err != nil {
			return nil, nil, err
		}
		return h, sig, nil
	}
	if err == nil {
		err = in.SetHeader(h)
	}
	if cerr := in.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	return h, sig, nil
}
