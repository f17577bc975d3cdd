package image

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Source is what an image is made from: a random-access disk or file of
// known size (NewSource, OpenSource on a file or block device), or a stream
// read once to its end (NewStreamSource, OpenSource("-")).
type Source struct {
	ra     io.ReaderAt
	r      io.Reader
	size   int64   // SizeUnknown for streams
	sector uint32  // logical sector size
	data   []Range // extents holding data; nil means "all of it"
	desc   string  // for Header.Source
	closer io.Closer
}

// NewSource makes a Source of size bytes read from r.
func NewSource(r io.ReaderAt, size int64) *Source {
	return &Source{ra: r, size: size, sector: 512}
}

// NewStreamSource makes a Source that reads r once, to EOF; its size is
// learnt at the end.
func NewStreamSource(r io.Reader) *Source {
	return &Source{r: r, size: SizeUnknown, sector: 512, desc: "stream"}
}

// OpenSource opens a disk image source: "-" is standard input (a stream); a
// regular file is read with its holes skipped unread (SEEK_DATA/SEEK_HOLE);
// a block device's size comes from BLKGETSIZE64. Close it when done.
func OpenSource(path string) (*Source, error) {
	if path == "-" {
		s := NewStreamSource(os.Stdin)
		s.desc = "stdin"
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &Source{ra: f, sector: 512, desc: path, closer: f}
	switch {
	case st.Mode().IsRegular():
		s.size = st.Size()
		if ext, ok := dataExtents(f, s.size); ok {
			s.data = ext
		}
	case blockDevice(f):
		if s.size, err = blockDevSize(f); err != nil {
			f.Close()
			return nil, err
		}
		s.sector = blockDevSectorSize(f)
	default:
		// A pipe or character device given by name: read it as a stream.
		s.ra, s.r, s.size = nil, f, SizeUnknown
	}
	return s, nil
}

// Size is the source's size in bytes, or SizeUnknown for a stream.
func (s *Source) Size() int64 { return s.size }

// ReaderAt gives random access for filesystem readers (nil for a stream).
func (s *Source) ReaderAt() io.ReaderAt { return s.ra }

// SetDescription sets the text recorded in Header.Source.
func (s *Source) SetDescription(d string) { s.desc = d }

// SetSectorSize overrides the logical sector size recorded in the header.
func (s *Source) SetSectorSize(n uint32) { s.sector = n }

// Close closes a source opened by OpenSource (stdin is left open).
func (s *Source) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// regions returns the parts of the source to read, in order: the data
// extents intersected with used (nil used = everything). For streams the
// last region is open-ended.
func (s *Source) regions(used []Range) ([]Range, error) {
	if err := checkRanges(used); err != nil {
		return nil, fmt.Errorf("image: CreateConfig.Used: %w", err)
	}
	all := []Range{{Off: 0, Len: s.size}}
	if s.size == SizeUnknown {
		all = []Range{{Off: 0, Len: maxInt64}}
	}
	if s.data != nil {
		all = s.data
	}
	if used == nil {
		return all, nil
	}
	return intersect(all, used), nil
}

const maxInt64 = 1<<63 - 1

var errUnordered = errors.New("ranges not sorted, overlapping or empty")

// checkRanges requires ascending, non-overlapping, non-empty ranges.
func checkRanges(rs []Range) error {
	prev := int64(0)
	for _, r := range rs {
		if r.Off < prev || r.Len <= 0 || r.Off > maxInt64-r.Len {
			return errUnordered
		}
		prev = r.End()
	}
	return nil
}

// intersect returns the bytes in both sorted range lists.
func intersect(a, b []Range) []Range {
	var out []Range
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].Off, b[j].Off), min(a[i].End(), b[j].End())
		if lo < hi {
			out = append(out, Range{Off: lo, Len: hi - lo})
		}
		if a[i].End() < b[j].End() {
			i++
		} else {
			j++
		}
	}
	return out
}
