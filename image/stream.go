package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
)

// ScanStream reads an image file front to back from r, which need not be
// seekable (a pipe). It calls start with the file's preliminary header,
// then fn with each chunk in order — raw bytes, valid only during the call;
// fn should verify them (an Installer's Put does). At the end it checks
// the index and trailer against what it read and returns the final header.
// Errors from a chunk name its index and offset.
func ScanStream(ctx context.Context, r io.Reader, start func(*Header) error, fn func(index int, chunk []byte) error) (*Header, error) {
	h, _, err := ScanStreamSigned(ctx, r, start, fn)
	return h, err
}

// ScanStreamSigned is ScanStream that also returns the image's signature
// (nil if unsigned; checked against its own key, not for trust). Each
// chunk's SHA-256 is checked against the index at the end, when the
// index arrives: fn has seen the chunks by then, so a caller that must
// not act on an untrusted chunk cannot rely on a stream alone.
func ScanStreamSigned(ctx context.Context, r io.Reader, start func(*Header) error, fn func(index int, chunk []byte) error) (*Header, *Signature, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	read := func(b []byte) error {
		n, err := io.ReadFull(br, b)
		off += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: stream ended at byte %d", ErrTruncated, off)
		}
		return err
	}
	var fixed [prologueFixed]byte
	if err := read(fixed[:]); err != nil {
		return nil, nil, err
	}
	pl, err := prologueLen(fixed[:])
	if err != nil {
		return nil, nil, err
	}
	hb := make([]byte, pl-prologueFixed)
	if err := read(hb); err != nil {
		return nil, nil, err
	}
	pre, err := ParseHeader(hb)
	if err != nil {
		return nil, nil, fmt.Errorf("image file header: %w", err)
	}
	if start != nil {
		if err := start(pre); err != nil {
			return nil, nil, err
		}
	}
	buf := make([]byte, pre.ChunkSize)
	var offs []uint64
	var sums [][32]byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		at := off
		if err := read(buf[:4]); err != nil {
			return nil, nil, &ChunkError{Index: len(offs), Offset: at, Err: err}
		}
		if [4]byte(buf[:4]) == indexMagic {
			break
		}
		cerr := func(err error) error { return &ChunkError{Index: len(offs), Offset: at, Err: err} }
		if err := read(buf[4:chunkFixedLen]); err != nil {
			return nil, nil, cerr(err)
		}
		n, err := chunkLen(buf[:chunkFixedLen])
		if err != nil {
			return nil, nil, cerr(err)
		}
		if n > len(buf) {
			return nil, nil, cerr(corruptf("chunk of %d bytes exceeds the chunk size %d", n, len(buf)))
		}
		if err := read(buf[chunkFixedLen:n]); err != nil {
			return nil, nil, cerr(err)
		}
		if len(offs) >= MaxChunkCount {
			return nil, nil, cerr(corruptf("too many chunks"))
		}
		offs = append(offs, uint64(at))
		sums = append(sums, sha256.Sum256(buf[:n]))
		if err := fn(len(offs)-1, buf[:n]); err != nil {
			var ce *ChunkError
			if errors.As(err, &ce) && ce.Offset < 0 {
				ce.Offset = at
			}
			return nil, nil, err
		}
	}
	indexOff := off - 4
	var ix [indexFixed]byte
	copy(ix[:], indexMagic[:])
	if err := read(ix[4:]); err != nil {
		return nil, nil, err
	}
	count, hl := le.Uint32(ix[8:]), le.Uint32(ix[12:])
	if int(count) != len(offs) || hl > headerMaxLen {
		return nil, nil, corruptf("image index: %d chunks, read %d", count, len(offs))
	}
	sl := 0
	if ix[5]&iflagSigned != 0 {
		sl = sigBlockLen
	}
	idx := make([]byte, indexFixed+indexEntryLen*int(count)+int(hl)+sl)
	copy(idx, ix[:])
	if err := read(idx[indexFixed:]); err != nil {
		return nil, nil, err
	}
	if hoff := indexFixed + indexEntryLen*int(count); hl >= headerFixedLen {
		// The block map follows; its length is in the header (checked by parseIndex).
		if ml := le.Uint32(idx[hoff+hoffMapLen:]); ml > 0 && ml <= MaxBlockMapLen {
			mb := make([]byte, ml)
			if err := read(mb); err != nil {
				return nil, nil, err
			}
			idx = append(idx, mb...)
		}
	}
	var tr [trailerLen]byte
	if err := read(tr[:]); err != nil {
		return nil, nil, err
	}
	if [4]byte(tr[0:4]) != trailerMagic || le.Uint64(tr[8:]) != uint64(indexOff) ||
		le.Uint64(tr[16:]) != uint64(len(idx)) || le.Uint64(tr[24:]) != xxhash.Sum64(idx) {
		return nil, nil, corruptf("image trailer does not match its index")
	}
	fi, err := parseIndex(idx, int64(pl), indexOff)
	if err != nil {
		return nil, nil, err
	}
	for i, o := range offs {
		if fi.offs[i] != int64(o) {
			return nil, nil, &ChunkError{Index: i, Offset: int64(o), Err: corruptf("index puts the chunk at %d", fi.offs[i])}
		}
		if fi.m.Hash(i) != sums[i] {
			return nil, nil, &ChunkError{Index: i, Offset: int64(o), Err: errManifest("SHA-256 differs from the index")}
		}
	}
	if err := sameImage(pre, fi.h); err != nil {
		return nil, nil, err
	}
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return nil, nil, corruptf("data after the image trailer")
	}
	return fi.h, fi.sig, nil
}
