package image

import (
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
)

// ChunkHeader is the decoded header of one chunk. A chunk is
// self-describing: with its header alone a receiver knows which image it
// belongs to, where its bytes go and how to check them.
type ChunkHeader struct {
	ImageID ID
	Index   uint32
	// Count is the image's chunk count when the creator knew it as it
	// encoded this chunk — it does only for the last chunk (Last set) — and
	// 0 otherwise.
	Count uint32
	Last  bool // this is the image's last chunk
	Codec Codec

	// Span is the part of the target this chunk is responsible for. The
	// spans of an image's chunks tile the target from 0 to its size in
	// index order. Bytes of the span outside Ranges are gaps: zero or
	// unused in the source, so the installer leaves, zeroes or discards
	// them (GapMode).
	Span Range
	// Ranges are where the payload's bytes go, in ascending order, inside
	// Span, non-overlapping; their lengths add up to RawLen.
	Ranges []Range

	RawLen     uint32 // uncompressed payload length
	PayloadLen uint32 // encoded payload length
	PayloadSum uint64 // xxhash64 of the encoded payload
	HeaderLen  int    // encoded header length; the payload follows it

	// Reserved for later formats and written by none yet: the SHA-256 of
	// the uncompressed bytes (signed images; verified when present) and a
	// delta-base reference (incremental images; refused by this version).
	SHA256    *[32]byte
	DeltaBase *DeltaRef

	// Sealed: the payload is sealed with the image's key (encrypted
	// images): PayloadLen includes the 16-byte tag, and the payload
	// decrypts to what Codec then decodes.
	Sealed bool
}

// DeltaRef names the chunk of a base image a delta chunk applies to.
type DeltaRef struct {
	Image ID
	Index uint32
}

// Chunk header layout; see docs/FORMAT.md, "Chunk".
const (
	chunkFixedLen = 72 // up to and including the payload checksum
	chunkMinLen   = chunkFixedLen + 8
	rangeLen      = 16
	sha256Len     = 32
	deltaRefLen   = 24

	cflagLast   = 1 << 0
	cflagSHA256 = 1 << 1
	cflagDelta  = 1 << 2
	cflagSealed = 1 << 3
	cflagKnown  = cflagLast | cflagSHA256 | cflagDelta | cflagSealed
)

// chunkHeaderLen is the encoded header length of a chunk with n ranges and
// the given optional fields.
func chunkHeaderLen(n int, flags byte) int {
	l := chunkFixedLen + n*rangeLen + 8
	if flags&cflagSHA256 != 0 {
		l += sha256Len
	}
	if flags&cflagDelta != 0 {
		l += deltaRefLen
	}
	return l
}

// chunkLen returns the total length (header + payload) of the chunk whose
// first chunkFixedLen bytes are b, checking only what those bytes allow.
// Stream readers use it to know how much more to read.
func chunkLen(b []byte) (int, error) {
	if len(b) < chunkFixedLen {
		return 0, fmt.Errorf("%w: chunk header: %d bytes", ErrTruncated, len(b))
	}
	if [4]byte(b[0:4]) != chunkMagic {
		return 0, corruptf("chunk: bad magic %q", b[0:4])
	}
	if b[4] != formatVersion {
		return 0, fmt.Errorf("%w: chunk version %d", ErrVersion, b[4])
	}
	flags := b[5]
	if flags&^cflagKnown != 0 {
		return 0, fmt.Errorf("%w: chunk flags %#x", ErrVersion, flags)
	}
	n := int(le.Uint16(b[32:]))
	hl := int(le.Uint16(b[34:]))
	if hl != chunkHeaderLen(n, flags) {
		return 0, corruptf("chunk: header length %d does not match %d ranges", hl, n)
	}
	return hl + int(le.Uint32(b[40:])), nil
}

// ParseChunk checks one encoded chunk — header checksum, payload checksum,
// every field and bound — and returns its header and its payload (a
// sub-slice of b). b must be exactly one chunk. It never panics and
// allocates at most about len(b) bytes. Errors are *ChunkError wrapping
// ErrCorrupt, ErrTruncated or ErrVersion; Index is -1 until the header
// checksum has vouched for the index.
func ParseChunk(b []byte) (*ChunkHeader, []byte, error) { return parseChunkErr(b, true) }

// parseChunkErr is ParseChunk, the payload checksum checked only when payloadSum is
// set (a chunk whose SHA-256 already matched the manifest: Installer.PutOwnedChecked).
func parseChunkErr(b []byte, payloadSum bool) (*ChunkHeader, []byte, error) {
	h, p, err := parseChunkWith(b, payloadSum)
	if err != nil {
		idx := -1
		if h != nil {
			idx = int(h.Index)
		}
		return nil, nil, &ChunkError{Index: idx, Offset: -1, Err: err}
	}
	return h, p, nil
}

func parseChunk(b []byte) (*ChunkHeader, []byte, error) { return parseChunkWith(b, true) }

func parseChunkWith(b []byte, payloadSum bool) (*ChunkHeader, []byte, error) {
	total, err := chunkLen(b)
	if err != nil {
		return nil, nil, err
	}
	if total != len(b) {
		if len(b) < total {
			return nil, nil, fmt.Errorf("%w: chunk is %d bytes, header says %d", ErrTruncated, len(b), total)
		}
		return nil, nil, corruptf("chunk is %d bytes, header says %d", len(b), total)
	}
	hl := int(le.Uint16(b[34:]))
	if le.Uint64(b[hl-8:]) != xxhash.Sum64(b[:hl-8]) {
		return nil, nil, corruptf("chunk header checksum mismatch")
	}
	flags := b[5]
	h := &ChunkHeader{
		Index:      le.Uint32(b[24:]),
		Count:      le.Uint32(b[28:]),
		Last:       flags&cflagLast != 0,
		Codec:      Codec(b[6]),
		RawLen:     le.Uint32(b[36:]),
		PayloadLen: le.Uint32(b[40:]),
		PayloadSum: le.Uint64(b[64:]),
		HeaderLen:  hl,
		Sealed:     flags&cflagSealed != 0,
	}
	copy(h.ImageID[:], b[8:24])
	// From here on the header checksum vouches for the index, so errors
	// return h to let ParseChunk name the chunk.
	fail := func(format string, args ...any) (*ChunkHeader, []byte, error) {
		return h, nil, corruptf(format, args...)
	}
	if !h.Codec.valid() {
		return h, nil, fmt.Errorf("%w: chunk codec %d", ErrVersion, b[6])
	}
	if b[7] != 0 || le.Uint32(b[44:]) != 0 {
		return fail("chunk reserved bytes not zero")
	}
	if h.Last && h.Count != h.Index+1 {
		return fail("last chunk %d has count %d", h.Index, h.Count)
	}
	if !h.Last && h.Count != 0 && h.Count <= h.Index {
		return fail("chunk index %d not below count %d", h.Index, h.Count)
	}
	if h.Index >= MaxChunkCount {
		return fail("chunk index %d too large", h.Index)
	}
	so, se := le.Uint64(b[48:]), le.Uint64(b[56:])
	if so > se || se > math.MaxInt64 {
		return fail("chunk span [%d,%d) invalid", so, se)
	}
	h.Span = Range{Off: int64(so), Len: int64(se - so)}
	payload := b[hl:]
	if payloadSum && xxhash.Sum64(payload) != h.PayloadSum {
		return fail("chunk payload checksum mismatch")
	}
	n := int(le.Uint16(b[32:]))
	if n > 0 {
		h.Ranges = make([]Range, n)
	}
	var sum uint64
	prevEnd := so
	for i := range n {
		p := b[chunkFixedLen+i*rangeLen:]
		off, ln := le.Uint64(p), le.Uint64(p[8:])
		if ln == 0 || off < prevEnd || ln > se || off > se-ln {
			return fail("chunk range %d [%d,+%d) outside span or out of order", i, off, ln)
		}
		prevEnd = off + ln
		sum += ln
		h.Ranges[i] = Range{Off: int64(off), Len: int64(ln)}
	}
	if sum != uint64(h.RawLen) {
		return fail("chunk ranges hold %d bytes, raw length is %d", sum, h.RawLen)
	}
	plain := uint64(h.PayloadLen) // the payload before sealing
	if h.Sealed {
		if plain < sealOverhead {
			return fail("sealed payload of %d bytes", h.PayloadLen)
		}
		plain -= sealOverhead
	}
	switch h.Codec {
	case CodecNone:
		if plain != uint64(h.RawLen) {
			return fail("stored chunk payload %d bytes, raw %d", h.PayloadLen, h.RawLen)
		}
	case CodecZstd:
		if plain == 0 || h.RawLen == 0 {
			return fail("empty zstd chunk")
		}
	}
	opt := chunkFixedLen + n*rangeLen
	if flags&cflagSHA256 != 0 {
		h.SHA256 = new([32]byte)
		copy(h.SHA256[:], b[opt:])
		opt += sha256Len
	}
	if flags&cflagDelta != 0 {
		d := &DeltaRef{Index: le.Uint32(b[opt+16:])}
		copy(d.Image[:], b[opt:opt+16])
		if le.Uint32(b[opt+20:]) != 0 {
			return fail("chunk delta reference reserved bytes not zero")
		}
		h.DeltaBase = d
	}
	return h, payload, nil
}

// appendChunk encodes a chunk: header for h (Index/Count/Last as given)
// followed by payload. It fills h's derived fields.
func appendChunk(dst []byte, h *ChunkHeader, payload []byte) []byte {
	dst = appendChunkHeader(dst, h, payload)
	return append(dst, payload...)
}

// appendChunkHeader appends only the header of the chunk for h and payload
// (chunkHeaderLen bytes). The creator uses it to fill the header room it
// left in front of a payload compressed in place.
func appendChunkHeader(dst []byte, h *ChunkHeader, payload []byte) []byte {
	var flags byte
	if h.Last {
		flags |= cflagLast
	}
	if h.SHA256 != nil {
		flags |= cflagSHA256
	}
	if h.DeltaBase != nil {
		flags |= cflagDelta
	}
	if h.Sealed {
		flags |= cflagSealed
	}
	hl := chunkHeaderLen(len(h.Ranges), flags)
	h.HeaderLen = hl
	h.PayloadLen = uint32(len(payload))
	h.PayloadSum = xxhash.Sum64(payload)
	start := len(dst)
	dst = append(dst, chunkMagic[:]...)
	dst = append(dst, formatVersion, flags, byte(h.Codec), 0)
	dst = append(dst, h.ImageID[:]...)
	dst = le.AppendUint32(dst, h.Index)
	dst = le.AppendUint32(dst, h.Count)
	dst = le.AppendUint16(dst, uint16(len(h.Ranges)))
	dst = le.AppendUint16(dst, uint16(hl))
	dst = le.AppendUint32(dst, h.RawLen)
	dst = le.AppendUint32(dst, h.PayloadLen)
	dst = le.AppendUint32(dst, 0)
	dst = le.AppendUint64(dst, uint64(h.Span.Off))
	dst = le.AppendUint64(dst, uint64(h.Span.End()))
	dst = le.AppendUint64(dst, h.PayloadSum)
	for _, r := range h.Ranges {
		dst = le.AppendUint64(dst, uint64(r.Off))
		dst = le.AppendUint64(dst, uint64(r.Len))
	}
	if h.SHA256 != nil {
		dst = append(dst, h.SHA256[:]...)
	}
	if h.DeltaBase != nil {
		dst = append(dst, h.DeltaBase.Image[:]...)
		dst = le.AppendUint32(dst, h.DeltaBase.Index)
		dst = le.AppendUint32(dst, 0)
	}
	return le.AppendUint64(dst, xxhash.Sum64(dst[start:]))
}

// setChunkIndex rewrites the index, count and last flag of an encoded chunk
// and its header checksum. The creator numbers chunks only when it emits
// them, because a worker may split its span into several chunks.
func setChunkIndex(c []byte, index, count uint32, last bool) {
	le.PutUint32(c[24:], index)
	le.PutUint32(c[28:], count)
	if last {
		c[5] |= cflagLast
	} else {
		c[5] &^= cflagLast
	}
	hl := int(le.Uint16(c[34:]))
	le.PutUint64(c[hl-8:], xxhash.Sum64(c[:hl-8]))
}
