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

	// ErrUnsigned: trusted keys were given but the image carries no
	// signature.
	ErrUnsigned = errors.New("image: image is not signed")
	// ErrUntrusted: the image's signature is not by a trusted key, or does
	// not verify.
	ErrUntrusted = errors.New("image: signature not by a trusted key")
	// ErrManifest: a chunk (or the index) does not match the image's
	// manifest, the SHA-256 list the header's ManifestRoot pins.
	ErrManifest = errors.New("image: chunk does not match the image's manifest")
	// ErrManifestPending: the manifest part a check needs has not been
	// verified yet (ManifestChecker); offer the chunk or part again later.
	ErrManifestPending = errors.New("image: manifest part not verified yet")
	// ErrKey: an encrypted image without a key, or with a key whose ID is
	// not the image's.
	ErrKey = errors.New("image: encrypted image: no key or the wrong key")
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

// manifestError is a chunk that does not match its manifest hash. It is
// ErrManifest (refuse it; exit 6 for a command) and also ErrCorrupt, since
// for every caller that refetches bad chunks it is one more bad chunk.
type manifestError struct{ what string }

func (e manifestError) Error() string { return ErrManifest.Error() + ": " + e.what }

func (e manifestError) Is(target error) bool { return target == ErrManifest || target == ErrCorrupt }

func errManifest(what string) error { return manifestError{what} }
