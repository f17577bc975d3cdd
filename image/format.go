package image

import (
	"encoding/binary"
	"strconv"
)

// Sizes and limits of the format. docs/FORMAT.md is the byte-level
// specification; these constants are its single source in code.
const (
	// DefaultChunkSize is the encoded chunk size used when none is given.
	// Frisbee used 1 MB: big enough to compress well, small enough that a
	// lost packet stalls only a little of the image.
	DefaultChunkSize = 1 << 20
	// MinChunkSize and MaxChunkSize bound the settable chunk size.
	MinChunkSize = 64 << 10
	MaxChunkSize = 16 << 20

	// RawFactor bounds a chunk's uncompressed length to RawFactor times the
	// image's chunk size, so an installer's memory stays bounded whatever a
	// (possibly hostile) chunk claims.
	RawFactor = 8

	// MaxChunkCount bounds the number of chunks in one image, so that a
	// receiver's bookkeeping (one bit per chunk) stays small.
	MaxChunkCount = 1 << 26

	// MaxSourceLen bounds Header.Source in bytes.
	MaxSourceLen = 512

	// ZeroBlock is the granularity at which all-zero data is skipped.
	ZeroBlock = 4096
)

// Format version written by this package and the only one it reads.
const formatVersion = 5

// Magic numbers: each structure starts with four ASCII bytes so a hex dump
// (and a confused reader) can tell them apart.
var (
	chunkMagic   = [4]byte{'D', 'S', 'C', 'K'}
	headerMagic  = [4]byte{'D', 'S', 'I', 'H'}
	fileMagic    = [4]byte{'D', 'S', 'I', 'F'}
	indexMagic   = [4]byte{'D', 'S', 'I', 'X'}
	trailerMagic = [4]byte{'D', 'S', 'T', 'R'}
	sigMagic     = [4]byte{'D', 'S', 'S', 'G'}
	zeroID       ID
	le           = binary.LittleEndian
)

// MaxRawLen is the largest uncompressed length a chunk of an image with the
// given chunk size may have.
func MaxRawLen(chunkSize uint32) int { return int(chunkSize) * RawFactor }

// ID identifies one image. It is random at creation, so chunks of two
// images can never be mixed up.
type ID [16]byte

// IsZero reports whether id is the zero ID (meaning "not set").
func (id ID) IsZero() bool { return id == zeroID }

// String formats the ID as 32 hex digits.
func (id ID) String() string {
	const hexdig = "0123456789abcdef"
	var b [32]byte
	for i, c := range id {
		b[2*i] = hexdig[c>>4]
		b[2*i+1] = hexdig[c&15]
	}
	return string(b[:])
}

// Codec says how a payload is encoded.
type Codec uint8

const (
	// CodecNone stores the bytes as they are (used for data that does not
	// shrink, and for empty chunks).
	CodecNone Codec = 0
	// CodecZstd is one Zstandard frame.
	CodecZstd Codec = 1
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

func (c Codec) valid() bool { return c == CodecNone || c == CodecZstd }
