package image

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// SizeUnknown is Header.TargetSize while a streaming source (stdin) has not
// reached its end.
const SizeUnknown = -1

// Header describes a whole image. It travels on its own (MarshalBinary, at
// most 1 KiB) in the multicast sender's announcements and at both ends of an
// image file.
//
// A header is either complete or preliminary. A preliminary header
// (Complete false) is what a creator knows before it has read its source:
// ChunkCount is 0, the byte statistics are 0, and TargetSize is SizeUnknown
// if the source is a stream. The final header (Complete true) has them all.
type Header struct {
	ID         ID
	Complete   bool
	TargetSize int64  // bytes of the target disk; SizeUnknown (-1) if not known yet
	SectorSize uint32 // the source's logical sector size (512 for files)
	ChunkSize  uint32 // no encoded chunk is larger than this
	ChunkCount uint32 // number of chunks, indexes 0..ChunkCount-1 (complete headers only)
	Created    time.Time
	Source     string // what the image was made from, for people; at most MaxSourceLen bytes
	Codec      Codec  // the codec used for chunks that shrink
	Level      int    // compression level (zstd levels 1..22)

	// Byte statistics of the target, filled when the creator finishes.
	// DataBytes+ZeroBytes+UnusedBytes == TargetSize.
	DataBytes   int64 // bytes stored in chunks (uncompressed)
	ZeroBytes   int64 // all-zero blocks skipped
	UnusedBytes int64 // holes and space the filesystem does not use, skipped unread
	StoredBytes int64 // sum of the encoded chunks' lengths

	// DeltaBase is the image ID of the base of an incremental image
	// (CreateIncremental): its chunks hold only the blocks the base lacks,
	// and its block map describes the whole new disk. Zero means a full
	// image; installers refuse incremental ones (ApplyIncremental rebuilds
	// them from their base).
	DeltaBase ID
	// BaseRoot is the manifest root of the base image of an incremental
	// image (zero unless DeltaBase is set, never zero when it is): with
	// DeltaBase it names the base exactly, so an increment applied to any
	// other image is refused (CheckBase). Version 4.
	BaseRoot [32]byte

	// ManifestRoot is SHA-256 of the manifest's table (see Manifest): it
	// pins the SHA-256 of every encoded chunk, so a signature over the
	// header covers the whole image. Zero in a preliminary header; a
	// creator always sets it in the complete one.
	ManifestRoot [32]byte
	// Encrypted says every chunk's payload is sealed with the key whose
	// ID is KeyID (zero unless Encrypted). Known from the preliminary
	// header on, so an installer refuses a missing or wrong key at once.
	Encrypted bool
	KeyID     KeyID

	// BlockSize is the block size of the image's block map (BlockMap), 0
	// if it has none; known from the preliminary header on. BlockMapLen is
	// the encoded map's length, set in the complete header (0 = no map):
	// the manifest root commits to the map, so a signature covers it too.
	BlockSize   int
	BlockMapLen uint32
}

const (
	headerFixedLen = 180
	headerMaxLen   = headerFixedLen + MaxSourceLen + 8

	hflagComplete  = 1 << 0
	hflagDelta     = 1 << 1
	hflagEncrypted = 1 << 2
	hflagKnown     = hflagComplete | hflagDelta | hflagEncrypted

	// Offsets of the fields version 2 added after the delta base.
	hoffRoot   = 104
	hoffKeyID  = 136
	hoffSrcLen = 144
	// Version 3: the block map's length and block size (log2).
	hoffMapLen   = 44
	hoffMapShift = 146
	// Version 4: the base image's manifest root; the source text follows.
	hoffBaseRoot = 148
)

// Ratio is TargetSize / StoredBytes, the overall saving, or 0 if unknown.
func (h *Header) Ratio() float64 {
	if h.StoredBytes <= 0 || h.TargetSize <= 0 {
		return 0
	}
	return float64(h.TargetSize) / float64(h.StoredBytes)
}

// MaxRawLen is the largest uncompressed length a chunk of this image may have.
func (h *Header) MaxRawLen() int { return MaxRawLen(h.ChunkSize) }

// validate checks the invariants of a header, for both writing and parsing.
func (h *Header) validate() error {
	switch {
	case h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize:
		return corruptf("header: chunk size %d out of range", h.ChunkSize)
	case h.SectorSize < 512 || h.SectorSize > 65536 || h.SectorSize&(h.SectorSize-1) != 0:
		return corruptf("header: sector size %d invalid", h.SectorSize)
	case h.TargetSize < SizeUnknown:
		return corruptf("header: target size %d invalid", h.TargetSize)
	case !h.Codec.valid():
		return fmt.Errorf("%w: header: codec %d", ErrVersion, h.Codec)
	case h.Level < 0 || h.Level > 22:
		return corruptf("header: level %d invalid", h.Level)
	case len(h.Source) > MaxSourceLen || !utf8.ValidString(h.Source):
		return corruptf("header: source description too long or not UTF-8")
	case h.DataBytes < 0 || h.ZeroBytes < 0 || h.UnusedBytes < 0 || h.StoredBytes < 0:
		return corruptf("header: negative statistics")
	}
	if !h.Encrypted && !h.KeyID.IsZero() {
		return corruptf("header: key ID without the encrypted flag")
	}
	if h.BlockSize != 0 {
		if _, err := blockShift(h.BlockSize); err != nil {
			return corruptf("header: %v", err)
		}
	}
	if h.BlockMapLen != 0 && (h.BlockSize == 0 || !h.Complete || h.BlockMapLen > MaxBlockMapLen) {
		return corruptf("header: block map length %d without a block size, in a preliminary header or too large", h.BlockMapLen)
	}
	if h.DeltaBase.IsZero() != (h.BaseRoot == [32]byte{}) {
		return corruptf("header: delta base ID and base manifest root not set together")
	}
	if !h.DeltaBase.IsZero() && (h.BlockSize == 0 || h.Encrypted || (h.Complete && h.BlockMapLen == 0)) {
		return corruptf("header: an incremental image needs a block map and no encryption")
	}
	if h.Complete {
		if h.TargetSize < 0 {
			return corruptf("header: complete header without target size")
		}
		if h.ChunkCount < 1 || h.ChunkCount > MaxChunkCount {
			return corruptf("header: chunk count %d out of range", h.ChunkCount)
		}
		if 1+manifestPieces(h.ChunkSize, int(h.ChunkCount))+mapPieces(h.ChunkSize, h.BlockMapLen) > 1+pieceLen(h.ChunkSize)/hashLen {
			return corruptf("header: %d chunks: the manifest table would not fit one %d-byte chunk (use a larger chunk size)", h.ChunkCount, h.ChunkSize)
		}
	} else if h.ChunkCount != 0 || h.ManifestRoot != [32]byte{} {
		return corruptf("header: preliminary header with chunk count or manifest root")
	}
	return nil
}

// MarshalBinary encodes the header (format in docs/FORMAT.md, "Image header").
func (h *Header) MarshalBinary() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, headerFixedLen, headerFixedLen+len(h.Source)+8)
	copy(b[0:4], headerMagic[:])
	b[4] = formatVersion
	var flags byte
	if h.Complete {
		flags |= hflagComplete
	}
	if !h.DeltaBase.IsZero() {
		flags |= hflagDelta
	}
	if h.Encrypted {
		flags |= hflagEncrypted
	}
	b[5] = flags
	b[6] = byte(h.Codec)
	b[7] = byte(h.Level)
	copy(b[8:24], h.ID[:])
	le.PutUint64(b[24:], uint64(h.TargetSize))
	le.PutUint32(b[32:], h.SectorSize)
	le.PutUint32(b[36:], h.ChunkSize)
	le.PutUint32(b[40:], h.ChunkCount)
	var created int64
	if !h.Created.IsZero() {
		created = h.Created.UnixNano()
	}
	le.PutUint64(b[48:], uint64(created))
	le.PutUint64(b[56:], uint64(h.DataBytes))
	le.PutUint64(b[64:], uint64(h.ZeroBytes))
	le.PutUint64(b[72:], uint64(h.UnusedBytes))
	le.PutUint64(b[80:], uint64(h.StoredBytes))
	copy(b[88:104], h.DeltaBase[:])
	copy(b[hoffRoot:hoffRoot+32], h.ManifestRoot[:])
	copy(b[hoffKeyID:hoffKeyID+8], h.KeyID[:])
	copy(b[hoffBaseRoot:hoffBaseRoot+32], h.BaseRoot[:])
	le.PutUint16(b[hoffSrcLen:], uint16(len(h.Source)))
	le.PutUint32(b[hoffMapLen:], h.BlockMapLen)
	if h.BlockSize != 0 {
		s, _ := blockShift(h.BlockSize)
		b[hoffMapShift] = byte(s)
	}
	b = append(b, h.Source...)
	b = le.AppendUint64(b, xxhash.Sum64(b))
	return b, nil
}

// ParseHeader decodes and checks a header made by MarshalBinary. b must be
// exactly one header; use headerLen to find its length in a longer buffer.
func ParseHeader(b []byte) (*Header, error) {
	n, err := headerLen(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, corruptf("header: %d bytes, expected %d", len(b), n)
	}
	if got, want := le.Uint64(b[n-8:]), xxhash.Sum64(b[:n-8]); got != want {
		return nil, corruptf("header: checksum mismatch")
	}
	flags := b[5]
	if flags&^hflagKnown != 0 {
		return nil, fmt.Errorf("%w: header flags %#x", ErrVersion, flags)
	}
	if b[hoffSrcLen+3] != 0 {
		return nil, corruptf("header: reserved bytes not zero")
	}
	h := &Header{
		Complete:    flags&hflagComplete != 0,
		Codec:       Codec(b[6]),
		Level:       int(b[7]),
		TargetSize:  int64(le.Uint64(b[24:])),
		SectorSize:  le.Uint32(b[32:]),
		ChunkSize:   le.Uint32(b[36:]),
		ChunkCount:  le.Uint32(b[40:]),
		DataBytes:   int64(le.Uint64(b[56:])),
		ZeroBytes:   int64(le.Uint64(b[64:])),
		UnusedBytes: int64(le.Uint64(b[72:])),
		StoredBytes: int64(le.Uint64(b[80:])),
		Source:      string(b[headerFixedLen : n-8]),
		Encrypted:   flags&hflagEncrypted != 0,
		BlockMapLen: le.Uint32(b[hoffMapLen:]),
	}
	if sh := b[hoffMapShift]; sh != 0 {
		if sh < 12 || sh > 20 {
			return nil, corruptf("header: block size 2^%d out of range", sh)
		}
		h.BlockSize = 1 << sh
	}
	copy(h.ID[:], b[8:24])
	copy(h.DeltaBase[:], b[88:104])
	copy(h.ManifestRoot[:], b[hoffRoot:])
	copy(h.KeyID[:], b[hoffKeyID:])
	copy(h.BaseRoot[:], b[hoffBaseRoot:])
	if (flags&hflagDelta != 0) != !h.DeltaBase.IsZero() {
		return nil, corruptf("header: delta flag and delta base disagree")
	}
	if c := int64(le.Uint64(b[48:])); c != 0 {
		h.Created = time.Unix(0, c).UTC()
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// headerLen returns the length of the header at the start of b from its
// fixed part, after checking magic and version.
func headerLen(b []byte) (int, error) {
	if len(b) < headerFixedLen {
		return 0, fmt.Errorf("%w: header: %d bytes, need at least %d", ErrTruncated, len(b), headerFixedLen)
	}
	if [4]byte(b[0:4]) != headerMagic {
		return 0, corruptf("header: bad magic %q", b[0:4])
	}
	if b[4] != formatVersion {
		return 0, fmt.Errorf("%w: header version %d", ErrVersion, b[4])
	}
	sl := int(le.Uint16(b[hoffSrcLen:]))
	if sl > MaxSourceLen {
		return 0, corruptf("header: source length %d too long", sl)
	}
	return headerFixedLen + sl + 8, nil
}
