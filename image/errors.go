package image

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns for bad data wraps one
// of them, so callers can tell "this chunk is bad, ask again" (ErrCorrupt)
// from "this is not our image" (ErrForeignImage) with errors.Is.
var (
	// ErrCorrupt: a checksum does not match or a field is out of bounds.
	ErrCorrupt = errors.New("image: corrupt data")
	// ErrForeignImage: a chunk belongs to another image (other image ID).
	ErrForeignImage = errors.New("image: chunk of a foreign image")
	// ErrVersion: the data was written by an unknown format version or
	// uses a feature this version cannot apply (delta chunks).
	ErrVersion = errors.New("image: unsupported format version or feature")
	// ErrTruncated: the image file ends early.
	ErrTruncated = errors.New("image: truncated image")
	// ErrTargetTooSmall: the install target cannot hold the image.
	ErrTargetTooSmall = errors.New("image: target too small")
	// ErrIncomplete: an installation ended before every chunk was written.
	ErrIncomplete = errors.New("image: installation incomplete")
	// ErrClosed: the installer was used after Close or after a fatal error.
	ErrClosed = errors.New("image: installer closed")
)

// ChunkError reports a problem with one chunk. Index is -1 when the chunk's
// header was too damaged to tell its index; Offset is the chunk's byte
// offset in the image file, or -1 when it did not come from a file.
type ChunkError struct {
	Index  int
	Offset int64
	Err    error
}

func (e *ChunkError) Error() string {
	where := "chunk ?"
	if e.Index >= 0 {
		where = fmt.Sprintf("chunk %d", e.Index)
	}
	if e.Offset >= 0 {
		where += fmt.Sprintf(" at image offset %d", e.Offset)
	}
	return where + ": " + e.Err.Error()
}

func (e *ChunkError) Unwrap() error { return e.Err }

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
