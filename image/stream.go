package image

import (
	"bufio"
	"context"
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
		return nil, err
	}
	pl, err := prologueLen(fixed[:])
	if err != nil {
		return nil, err
	}
	hb := make([]byte, pl-prologueFixed)
	if err := read(hb); err != nil {
		return nil, err
	}
	pre, err := ParseHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("image file header: %w", err)
	}
	if start != nil {
		if err := start(pre); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, pre.ChunkSize)
	var offs []uint64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		at := off
		if err := read(buf[:4]); err != nil {
			return nil, &ChunkError{Index: len(offs), Offset: at, Err: err}
		}
		if [4]byte(buf[:4]) == indexMagic {
			break
		}
		cerr := func(err error) error { return &ChunkError{Index: len(offs), Offset: at, Err: err} }
		if err := read(buf[4:chunkFixedLen]); err != nil {
			return nil, cerr(err)
		}
		n, err := chunkLen(buf[:chunkFixedLen])
		if err != nil {
			return nil, cerr(err)
		}
		if n > len(buf) {
			return nil, cerr(corruptf("chunk of %d bytes exceeds the chunk size %d", n, len(buf)))
		}
		if err := read(buf[chunkFixedLen:n]); err != nil {
			return nil, cerr(err)
		}
		if len(offs) >= MaxChunkCount {
			return nil, cerr(corruptf("too many chunks"))
		}
		offs = append(offs, uint64(at))
		if err := fn(len(offs)-1, buf[:n]); err != nil {
			var ce *ChunkError
			if errors.As(err, &ce) && ce.Offset < 0 {
				ce.Offset = at
			}
			return nil, err
		}
	}
	indexOff := off - 4
	var ix [indexFixed]byte
	copy(ix[:], indexMagic[:])
	if err := read(ix[4:]); err != nil {
		return nil, err
	}
	count, hl := le.Uint32(ix[8:]), le.Uint32(ix[12:])
	if int(count) != len(offs) || hl > headerMaxLen {
		return nil, corruptf("image index: %d chunks, read %d", count, len(offs))
	}
	idx := make([]byte, indexFixed+8*int(count)+int(hl))
	copy(idx, ix[:])
	if err := read(idx[indexFixed:]); err != nil {
		return nil, err
	}
	var tr [trailerLen]byte
	if err := read(tr[:]); err != nil {
		return nil, err
	}
	if [4]byte(tr[0:4]) != trailerMagic || le.Uint64(tr[8:]) != uint64(indexOff) ||
		le.Uint64(tr[16:]) != uint64(len(idx)) || le.Uint64(tr[24:]) != xxhash.Sum64(idx) {
		return nil, corruptf("image trailer does not match its index")
	}
	h, got, err := parseIndex(idx, int64(pl), indexOff)
	if err != nil {
		return nil, err
	}
	for i, o := range offs {
		if got[i] != int64(o) {
			return nil, &ChunkError{Index: i, Offset: int64(o), Err: corruptf("index puts the chunk at %d", got[i])}
		}
	}
	if err := sameImage(pre, h); err != nil {
		return nil, err
	}
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return nil, corruptf("data after the image trailer")
	}
	return h, nil
}
