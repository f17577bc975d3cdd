package session

import (
	"context"
	"fmt"
	"os"

	"github.com/discuscast/discus/image"
)

// IncrementalSource serves an incremental image to receivers that may hold its
// base (docs/PROTOCOL.md §3.9): session chunk i < n is the increment's chunk i
// (its literal blocks), n+j is reference chunk j (the new disk's other blocks,
// rebuilt from the base: image.BuildRefChunks), and the increment's manifest parts
// come last, as the lead. A receiver holding the base finds by hashing its target
// that it holds every reference chunk but those of blocks it lacks, and takes about
// the increment; an empty or drifted target takes what it lacks. The announce
// carries the increment's header (and signature): its manifest root commits to the
// literal chunks and to the block map every reference chunk is checked against.
type IncrementalSource struct {
	*ImageSource
	n, refs int
	spool   *os.File
	offs    []int64 // reference chunk j is spool[offs[2j] : offs[2j]+offs[2j+1]]
	bytes   int64
}

// NewIncrementalSource builds the reference chunks of incr on base (at zstd
// level, workers in parallel) into spool, a temporary file the caller removes
// afterwards, and returns the source once they are all built.
func NewIncrementalSource(ctx context.Context, incr, base *image.Reader, level, workers int, spool *os.File) (*IncrementalSource, error) {
	if err := image.CheckBase(incr.Header(), base.Header()); err != nil {
		return nil, err
	}
	is, err := NewImageSource(incr)
	if err != nil {
		return nil, err
	}
	s := &IncrementalSource{ImageSource: is, n: incr.NumChunks(), spool: spool}
	var off int64
	var offs []int64
	refs, err := image.BuildRefChunks(ctx, incr, base, level, workers, func(j int, c []byte) error {
		if _, err := spool.WriteAt(c, off); err != nil {
			return fmt.Errorf("mcast: spooling reference chunks to %s: %w", spool.Name(), err)
		}
		for len(offs) < 2*(j+1) {
			offs = append(offs, 0, -1)
		}
		offs[2*j], offs[2*j+1] = off, int64(len(c))
		off += int64(len(c))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(offs) != 2*refs {
		return nil, fmt.Errorf("mcast: internal error: %d reference chunks built, %d spooled", refs, len(offs)/2)
	}
	s.refs, s.offs, s.bytes = refs, offs, off
	return s, nil
}

// RefChunks is the number of reference chunks.
func (s *IncrementalSource) RefChunks() int { return s.refs }

// ChunkCount implements ChunkSource.
func (s *IncrementalSource) ChunkCount() (int, bool) {
	n, _ := s.ImageSource.ChunkCount()
	return n + s.refs, true
}

// Chunk implements ChunkSource.
func (s *IncrementalSource) Chunk(i int) ([]byte, error) {
	switch {
	case i < s.n:
		return s.ImageSource.Chunk(i)
	case i < s.n+s.refs:
		j := i - s.n
		b := make([]byte, s.offs[2*j+1])
		if _, err := s.spool.ReadAt(b, s.offs[2*j]); err != nil {
			err = fmt.Errorf("mcast: reading spooled reference chunk %d: %w", j, err)
			s.ImageSource.mu.Lock()
			if s.ImageSource.err == nil {
				s.ImageSource.err = err
			}
			s.ImageSource.mu.Unlock()
			return nil, err
		}
		return b, nil
	default:
		return s.ImageSource.Chunk(i - s.refs)
	}
}

// RecycleChunk implements the sender's buffer recycling for the increment's chunks.
func (s *IncrementalSource) RecycleChunk(i int, b []byte) {
	if i < s.n {
		s.ImageSource.RecycleChunk(i, b)
	}
}

// SessionBytes is the bytes of the increment's chunks and the reference chunks.
func (s *IncrementalSource) SessionBytes() int64 { return s.ImageSource.SessionBytes() + s.bytes }

// RefBytes is the bytes of the reference chunks.
func (s *IncrementalSource) RefBytes() int64 { return s.bytes }
