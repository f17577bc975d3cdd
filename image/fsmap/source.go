package fsmap

import (
	"fmt"
	"io"
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
	return OpenSourceWith(path, SourceOptions{Raw: raw, Logger: logger})
}

// SourceOptions tunes OpenSourceWith. The zero value scans the source,
// skips the gaps outside its partitions and logs nothing.
type SourceOptions struct {
	Raw      bool         // image every byte: no scan, nil map
	KeepGaps bool         // keep the unallocated space outside partitions (Options.KeepGaps)
	Logger   *slog.Logger // nil: silent
}

// OpenSourceWith is OpenSource with options.
func OpenSourceWith(path string, opt SourceOptions) (*image.Source, *Map, error) {
	src, err := image.OpenSource(path)
	if err != nil {
		return nil, nil, err
	}
	if opt.Raw || src.Size() <= 0 || src.ReaderAt() == nil {
		return src, nil, nil
	}
	m, err := ScanOptions(src.ReaderAt(), src.Size(), Options{KeepGaps: opt.KeepGaps, Logger: opt.Logger})
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

// heldBytes counts the bytes of rs that the image holds: its non-zero
// 4 KiB blocks (an image never stores a zero block, so a zero one was
// either skipped or zero at the source; either way nothing is kept).
func heldBytes(r io.ReaderAt, rs []image.Range) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for _, x := range rs {
		for off := x.Off; off < x.End(); {
			k := min(int64(len(buf)), x.End()-off)
			if _, err := r.ReadAt(buf[:k], off); err != nil && err != io.EOF {
				return 0, err
			}
			for b := int64(0); b < k; b += 4096 {
				blk := buf[b:min(b+4096, k)]
				if !allZero(blk) {
					n += int64(len(blk))
				}
			}
			off += k
		}
	}
	return n, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ScanImage scans the disk an image file holds without installing it
// (image.NewDiskReaderKey): the filesystems' metadata is in the image, so
// the same partitions and used ranges come out as when the image was made.
// key is needed for an encrypted image, nil otherwise. Map.HeldGapBytes
// tells whether the image skipped the gaps (0) or holds them (an image
// made with --keep-gaps, or before gaps were skipped).
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
	if m.HeldGapBytes, err = heldBytes(d, m.Gaps); err != nil {
		return nil, fmt.Errorf("reading the image's gaps: %w", err)
	}
	return m, nil
}
