package fsmap

import (
	"io"

	"github.com/discuscast/discus/image"
)

// fsReader knows one filesystem: how to recognise it and how to turn its
// own metadata into the byte ranges it has in use. Both functions see the
// filesystem alone: r starts at the filesystem's first byte and size is the
// partition's (or the bare filesystem's) length.
type fsReader struct {
	name  string
	probe func(r io.ReaderAt, size int64) bool
	used  func(r io.ReaderAt, size int64) ([]image.Range, error)
}

// readers is filled by each filesystem's file through register, so adding a
// filesystem touches no shared file.
var readers []fsReader

func register(fr fsReader) { readers = append(readers, fr) }
