package image

import (
	"fmt"
	"io"
	"os"
)

// GapMode says what an installer does with the gaps of a chunk's span: the
// bytes that were all-zero, holes or unused in the source.
type GapMode int

const (
	// GapLeave leaves gaps untouched: right for a fresh (sparse or zeroed)
	// target, and the fastest.
	GapLeave GapMode = iota
	// GapZero writes zeros over every gap, making the target byte-identical
	// to the source (unused space reads as zeros).
	GapZero
	// GapDiscard makes gaps read as zeros the cheap way: a hole punched in
	// a regular file, BLKZEROOUT on a block device; writes zeros on other
	// targets.
	GapDiscard
)

func (g GapMode) String() string {
	switch g {
	case GapLeave:
		return "leave"
	case GapZero:
		return "zero"
	case GapDiscard:
		return "discard"
	}
	return fmt.Sprintf("GapMode(%d)", int(g))
}

// ParseGapMode parses "leave", "zero" or "discard".
func ParseGapMode(s string) (GapMode, error) {
	for _, g := range []GapMode{GapLeave, GapZero, GapDiscard} {
		if g.String() == s {
			return g, nil
		}
	}
	return 0, fmt.Errorf("image: unknown gap mode %q (want leave, zero or discard)", s)
}

// Sizer is implemented by targets that know their size.
type Sizer interface{ Size() int64 }

// targetName names a target in error messages.
func targetName(t io.WriterAt) string {
	if n, ok := t.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "target"
}

// targetSize finds how many bytes the target holds: Size() if it has one,
// the size of a block device, or of a regular file (reg is then the file).
func targetSize(t io.WriterAt) (size int64, known bool, reg *os.File, err error) {
	if s, ok := t.(Sizer); ok {
		return s.Size(), true, nil, nil
	}
	f, ok := t.(*os.File)
	if !ok {
		return 0, false, nil, nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, false, nil, err
	}
	if st.Mode().IsRegular() {
		return st.Size(), true, f, nil
	}
	if blockDevice(f) {
		n, err := blockDevSize(f)
		return n, err == nil, nil, err
	}
	return 0, false, nil, nil
}

var zeros = make([]byte, 1<<20)

// fillGap makes [off, off+n) of the target read as zeros per mode.
func fillGap(t io.WriterAt, mode GapMode, off, n int64) error {
	if n <= 0 || mode == GapLeave {
		return nil
	}
	if f, ok := t.(*os.File); ok && mode == GapDiscard {
		if blockDevice(f) {
			// BLKZEROOUT wants 512-byte alignment; write the ragged ends.
			lo, hi := (off+511)&^511, (off+n)&^511
			if lo < hi {
				if err := writeZeros(t, off, lo-off); err != nil {
					return err
				}
				if err := zeroOutBlock(f, lo, hi-lo); err == nil {
					return writeZeros(t, hi, off+n-hi)
				}
			}
		} else if err := punchHole(f, off, n); err == nil {
			return nil
		}
	}
	return writeZeros(t, off, n)
}

func writeZeros(t io.WriterAt, off, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := t.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}
