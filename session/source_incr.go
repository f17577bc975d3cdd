package session

import (
	"fmt"
	"os"
	"sync"

	"github.com/discuscast/discus/image"
)

// IncrementalSource serves an incremental image to receivers that may hold its
// base (docs/PROTOCOL.md §3.9): session chunk i < n is the increment's chunk i
// (its literal blocks), n+j is reference chunk j (the new disk's other blocks,
// rebuilt from the base: image.RefBuilder), and the increment's manifest parts
// come last, as the lead. A receiver holding the base finds by hashing its target
// that it holds every reference chunk but those of blocks it lacks, and takes about
// the increment; an empty or drifted target takes what it lacks. The announce
// carries the increment's header (and signature): its manifest root commits to the
// literal chunks and to the block map every reference chunk is checked against.
//
// Reference chunks are built when first asked for and kept in a spool file, so a
// session starts at once and builds only what its receivers lack.
type IncrementalSource struct {
	*ImageSource
	n, refs int
	rb      *image.RefBuilder
	spool   *os.File

	mu    sync.Mutex
	built map[int]spooled
	end   int64 // spool bytes so far
}

type spooled struct{ off, n int64 }

// NewIncrementalSource serves incr on base (the image incr names, ErrWrongBase),
// building reference chunks at zstd level into spool, a temporary file the caller
// removes afterwards. base must stay open while the source is used; Close releases
// the source's readers of both images.
func NewIncrementalSource(incr, base *image.Reader, level int, spool *os.File) (*IncrementalSource, error) {
	if err := image.CheckBase(incr.Header(), base.Header()); err != nil {
		return nil, err
	}
	is, err := NewImageSource(incr)
	if err != nil {
		return nil, err
	}
	rb, err := image.NewRefBuilder(incr, base, level)
	if err != nil {
		return nil, err
	}
	return &IncrementalSource{ImageSource: is, n: incr.NumChunks(), refs: rb.Chunks(), rb: rb, spool: spool,
		built: map[int]spooled{}}, nil
}

// Close releases the reference builder (the images and the spool stay the caller's).
func (s *IncrementalSource) Close() error { return s.rb.Close() }

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
		c, err := s.ref(i - s.n)
		if err != nil {
			s.ImageSource.mu.Lock()
			if s.ImageSource.err == nil {
				s.ImageSource.err = err // a damaged base or increment ends the session
			}
			s.ImageSource.mu.Unlock()
		}
		return c, err
	default:
		return s.ImageSource.Chunk(i - s.refs)
	}
}

// ref returns reference chunk j from the spool, building it on first use.
func (s *IncrementalSource) ref(j int) ([]byte, error) {
	s.mu.Lock()
	sp, ok := s.built[j]
	s.mu.Unlock()
	if ok {
		b := make([]byte, sp.n)
		if _, err := s.spool.ReadAt(b, sp.off); err != nil {
			return nil, fmt.Errorf("mcast: reading spooled reference chunk %d: %w", j, err)
		}
		return b, nil
	}
	c, err := s.rb.Chunk(j)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.built[j]; ok {
		return c, nil
	}
	if _, err := s.spool.WriteAt(c, s.end); err != nil {
		return nil, fmt.Errorf("mcast: spooling reference chunk %d to %s: %w", j, s.spool.Name(), err)
	}
	s.built[j] = spooled{s.end, int64(len(c))}
	s.end += int64(len(c))
	return c, nil
}

// RecycleChunk implements the sender's buffer recycling for the increment's chunks.
func (s *IncrementalSource) RecycleChunk(i int, b []byte) {
	if i < s.n {
		s.ImageSource.RecycleChunk(i, b)
	}
}

// SessionBytes estimates the bytes of every chunk of the session: the increment's,
// and the reference chunks as large as the increment's on average (they are built
// only when asked for). Status files use it for a receiver's bytes done.
func (s *IncrementalSource) SessionBytes() int64 {
	lit := s.ImageSource.SessionBytes()
	if s.n == 0 {
		return lit
	}
	return lit + int64(s.refs)*(lit/int64(s.n))
}

// RefBytes is the bytes of the reference chunks built so far.
func (s *IncrementalSource) RefBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// RefsBuilt is the number of reference chunks built so far (those some receiver asked for).
func (s *IncrementalSource) RefsBuilt() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.built)
}
