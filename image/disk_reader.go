package image

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// DiskReader reads the disk an image would install, straight from the
// image file, without installing it: an io.ReaderAt over the target's
// TargetSize bytes. A read finds the chunk whose span covers the offset,
// decompresses it (keeping the last few in a small cache) and copies its
// bytes; gaps read as zeros. Filesystem readers (package image/fsmap) run
// on it to show what an image holds, since the filesystems' metadata is in
// the image.
//
// Every chunk is fully verified (checksums, bounds, decompressed length)
// before its bytes are used; a damaged image makes ReadAt fail with an
// error wrapping ErrCorrupt, never return wrong bytes. A DiskReader is safe
// for concurrent use.
type DiskReader struct {
	r    *Reader
	size int64
	ends []int64 // ends[i] is the end of chunk i's span; spans tile [0, size)

	key *Key // an encrypted image's key

	mu    sync.Mutex
	dec   *zstd.Decoder
	buf   []byte
	open  []byte     // an opened sealed payload
	cache *list.List // of *diskChunk, most recent first
}

// diskCacheChunks is how many decompressed chunks a DiskReader keeps: a
// filesystem reader jumps between a few metadata areas at a time.
const diskCacheChunks = 8

type diskChunk struct {
	index int
	h     *ChunkHeader
	raw   []byte
}

// NewDiskReader prepares to read the disk of the image r. It reads the
// span of every chunk from its header (a few bytes per chunk) and checks
// that the spans tile the target; chunks are verified when first read.
// Close it to free its decoder.
func NewDiskReader(r *Reader) (*DiskReader, error) { return NewDiskReaderKey(r, nil) }

// NewDiskReaderKey is NewDiskReader for an image that may be encrypted: k
// is its key (ErrKey if the image is encrypted and k is nil or another key).
func NewDiskReaderKey(r *Reader, k *Key) (*DiskReader, error) {
	h := r.Header()
	if err := checkKey(h, k); err != nil {
		return nil, err
	}
	n := r.NumChunks()
	d := &DiskReader{r: r, size: h.TargetSize, ends: make([]int64, n), cache: list.New(), key: k}
	var b [chunkFixedLen]byte
	prev := int64(0)
	for i := range n {
		off, l := r.ChunkOffset(i)
		if l < chunkFixedLen {
			return nil, &ChunkError{Index: i, Offset: off, Err: corruptf("chunk of %d bytes", l)}
		}
		if _, err := r.r.ReadAt(b[:], off); err != nil {
			return nil, &ChunkError{Index: i, Offset: off, Err: fmt.Errorf("reading: %w", err)}
		}
		so, se := int64(le.Uint64(b[48:])), int64(le.Uint64(b[56:]))
		if so != prev || se < so || se > d.size {
			return nil, &ChunkError{Index: i, Offset: off, Err: corruptf("span [%d,%d) does not follow the previous chunk's end %d inside the target's %d bytes", so, se, prev, d.size)}
		}
		d.ends[i] = se
		prev = se
	}
	if prev != d.size {
		return nil, corruptf("image: chunks cover %d bytes of a %d-byte target", prev, d.size)
	}
	dec, err := newChunkDecoder(h, 1)
	if err != nil {
		return nil, err
	}
	d.dec = dec
	return d, nil
}

// Size is the size of the disk in bytes (Header.TargetSize).
func (d *DiskReader) Size() int64 { return d.size }

// ReadAt reads len(p) bytes of the disk at off. It returns io.EOF when the
// read reaches the disk's end, as io.ReaderAt requires.
func (d *DiskReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("image: disk read at negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > d.size-off {
		p = p[:d.size-off]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil {
		return 0, ErrClosed
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		i := sort.Search(len(d.ends), func(i int) bool { return d.ends[i] > pos })
		c, err := d.chunk(i)
		if err != nil {
			return n, err
		}
		n += c.copyTo(p[n:], pos)
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// copyTo fills p from the chunk's span starting at disk offset pos (inside
// the span) and returns how many bytes it filled: up to the span's end.
func (c *diskChunk) copyTo(p []byte, pos int64) int {
	n := int(min(int64(len(p)), c.h.Span.End()-pos))
	p = p[:n]
	clear(p)
	raw := c.raw
	for _, r := range c.h.Ranges {
		lo, hi := max(r.Off, pos), min(r.End(), pos+int64(n))
		if lo < hi {
			copy(p[lo-pos:hi-pos], raw[lo-r.Off:hi-r.Off])
		}
		raw = raw[r.Len:]
	}
	return n
}

// chunk returns chunk i decompressed, from the cache or the file. d.mu is
// held.
func (d *DiskReader) chunk(i int) (*diskChunk, error) {
	for e := d.cache.Front(); e != nil; e = e.Next() {
		if c := e.Value.(*diskChunk); c.index == i {
			d.cache.MoveToFront(e)
			return c, nil
		}
	}
	ch, b, err := d.r.VerifyChunk(i, d.buf)
	if err != nil {
		return nil, err
	}
	d.buf = b
	off, _ := d.r.ChunkOffset(i)
	start := int64(0)
	if i > 0 {
		start = d.ends[i-1]
	}
	if ch.Span.Off != start || ch.Span.End() != d.ends[i] {
		return nil, &ChunkError{Index: i, Offset: off, Err: corruptf("span changed since the image was opened")}
	}
	payload := b[ch.HeaderLen:]
	if ch.Sealed {
		if payload, err = d.key.openChunk(ch, b, d.open); err != nil {
			return nil, &ChunkError{Index: i, Offset: off, Err: err}
		}
		d.open = payload[:0]
	}
	var c *diskChunk
	if d.cache.Len() >= diskCacheChunks {
		c = d.cache.Remove(d.cache.Back()).(*diskChunk)
	} else {
		c = &diskChunk{}
	}
	raw := c.raw[:0]
	switch ch.Codec {
	case CodecZstd:
		if cap(raw) < int(ch.RawLen) {
			raw = make([]byte, 0, ch.RawLen)
		}
		raw, err = d.dec.DecodeAll(payload, raw[:0:ch.RawLen])
		if err == nil && len(raw) != int(ch.RawLen) {
			err = fmt.Errorf("decompressed %d bytes, expected %d", len(raw), ch.RawLen)
		}
	default:
		raw = append(raw, payload...)
	}
	if err == nil && ch.SHA256 != nil && sha256.Sum256(raw) != *ch.SHA256 {
		err = errors.New("SHA-256 mismatch")
	}
	if err != nil {
		return nil, &ChunkError{Index: i, Offset: off, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	*c = diskChunk{index: i, h: ch, raw: raw}
	d.cache.PushFront(c)
	return c, nil
}

// Close frees the decoder; later reads fail with ErrClosed. It does not
// close the Reader.
func (d *DiskReader) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec != nil {
		d.dec.Close()
		d.dec = nil
	}
	d.cache.Init()
	return nil
}
