package fsmap

import (
	"fmt"
	"log/slog"

	"github.com/discuscast/discus/image"
)

// OpenSource opens what an image is to be made of, as image.OpenSource
// does (a file, a block device, or "-" for standard input), and, unless
// raw is set, scans its partitions and filesystems so that the image skips
// their free space: give the map's Used to image.CreateConfig.Used. This
// is the filesystem-aware source of `mcimage create` and of mcsend for a
// raw SOURCE.
//
// The map is nil when nothing was scanned — raw, a stream (it cannot be
// read ahead) or an empty source — and every byte is then imaged.
// Filesystems kept whole are logged to logger as Scan does (it may be
// nil). When the source opens but its partition table cannot be read, the
// error is a *ScanError and the source is closed.
func OpenSource(path string, raw bool, logger *slog.Logger) (*image.Source, *Map, error) {
	src, err := image.OpenSource(path)
	if err != nil {
		return nil, nil, err
	}
	if raw || src.Size() <= 0 || src.ReaderAt() == nil {
		return src, nil, nil
	}
	m, err := Scan(src.ReaderAt(), src.Size(), logger)
	if err != nil {
		src.Close()
		return nil, nil, &ScanError{Path: path, Err: err}
	}
	return src, m, nil
}

// ScanError is OpenSource's error when reading the source failed while
// Scan looked at its partition table.
type ScanError struct {
	Path string
	Err  error
}

func (e *ScanError) Error() string {
	return fmt.Sprintf("%s: reading its partitions and filesystems: %v", e.Path, e.Err)
}

func (e *ScanError) Unwrap() error { return e.Err }

// ScanImage scans the disk an image file holds without installing it
// (image.NewDiskReaderKey): the filesystems' metadata is in the image, so
// the same partitions and used ranges come out as when the image was made.
// key is needed for an encrypted image, nil otherwise.
func ScanImage(r *image.Reader, key *image.Key) (*Map, error) {
	d, err := image.NewDiskReaderKey(r, key)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	m, err := Scan(d, d.Size(), nil)
	if err != nil {
		return nil, fmt.Errorf("reading the image's partitions: %w", err)
	}
	return m, nil
}
