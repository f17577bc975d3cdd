package mcast

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/discuscast/discus/image"
)

// maxChunker is implemented by sources that know their largest chunk, so
// Send can size the protocol's MaxChunk to the image.
type maxChunker interface{ MaxChunkSize() int }

// failer is implemented by sources that can fail while a session runs (a
// disk being read and compressed on the fly); Send stops with the error.
type failer interface{ Err() error }

// ImageSource serves the chunks of an image file.
type ImageSource struct {
	r    *image.Reader
	meta []byte
	mu   sync.Mutex
	err  error
}

// NewImageSource wraps an opened image file as a ChunkSource.
func NewImageSource(r *image.Reader) (*ImageSource, error) {
	meta, err := r.Header().MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &ImageSource{r: r, meta: meta}, nil
}

// Meta implements ChunkSource: the image header.
func (s *ImageSource) Meta() []byte { return s.meta }

// ChunkCount implements ChunkSource.
func (s *ImageSource) ChunkCount() (int, bool) { return s.r.NumChunks(), true }

// Chunk implements ChunkSource. It verifies the chunk first: a corrupt
// image must fail the session, not send receivers data they would reject
// and ask for again for ever. Each call returns a fresh slice, since the
// sender keeps the chunks whose parity it caches.
func (s *ImageSource) Chunk(i int) ([]byte, error) {
	_, c, err := s.r.VerifyChunk(i, nil)
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return c, err
}

// Err reports the first chunk that failed verification.
func (s *ImageSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// MaxChunkSize is the image's chunk size.
func (s *ImageSource) MaxChunkSize() int { return int(s.r.Header().ChunkSize) }

// CreatingSource turns a raw disk, partition, file or stream into chunks
// while it is being sent: a goroutine reads and compresses the source in
// parallel and appends each chunk to a spool file, from which the sender
// serves first transmissions and repairs alike. The chunk count grows until
// the source ends, and the announced header becomes final then.
type CreatingSource struct {
	spool  *os.File
	maxCh  int
	mu     sync.Mutex
	meta   []byte
	offs   []int64 // chunk i is spool[offs[i]:offs[i+1]]
	final  bool
	err    error
	done   chan struct{}
	header *image.Header
	stats  image.CreateStats
}

// NewCreatingSource starts creating chunks from src into spool (a temporary
// file the caller removes afterwards) and returns once the preliminary
// header is known. Cancelling ctx stops the creation.
func NewCreatingSource(ctx context.Context, src *image.Source, cfg image.CreateConfig, spool *os.File) (*CreatingSource, error) {
	cs := &CreatingSource{spool: spool, offs: []int64{0}, done: make(chan struct{})}
	started := make(chan struct{})
	userStart := cfg.Start
	cfg.Start = func(h *image.Header) error {
		meta, err := h.MarshalBinary()
		if err != nil {
			return err
		}
		cs.mu.Lock()
		cs.meta, cs.maxCh, cs.header = meta, int(h.ChunkSize), h
		cs.mu.Unlock()
		close(started)
		if userStart != nil {
			return userStart(h)
		}
		return nil
	}
	go func() {
		defer close(cs.done)
		h, st, err := image.CreateChunks(ctx, src, cfg, func(_ int, c []byte) error {
			cs.mu.Lock()
			off := cs.offs[len(cs.offs)-1]
			cs.mu.Unlock()
			if _, err := spool.WriteAt(c, off); err != nil {
				return fmt.Errorf("mcast: spooling chunks to %s: %w", spool.Name(), err)
			}
			cs.mu.Lock()
			cs.offs = append(cs.offs, off+int64(len(c)))
			cs.mu.Unlock()
			return nil
		})
		cs.mu.Lock()
		defer cs.mu.Unlock()
		cs.stats = st
		if err != nil {
			cs.err = err
			return
		}
		meta, merr := h.MarshalBinary()
		if merr != nil {
			cs.err = merr
			return
		}
		cs.meta, cs.header, cs.final = meta, h, true
	}()
	select {
	case <-started:
		return cs, nil
	case <-cs.done:
		if cs.err == nil {
			cs.err = errors.New("mcast: source produced no header")
		}
		return nil, cs.err
	}
}

// Meta implements ChunkSource.
func (cs *CreatingSource) Meta() []byte {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.meta
}

// ChunkCount implements ChunkSource.
func (cs *CreatingSource) ChunkCount() (int, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.offs) - 1, cs.final
}

// Chunk implements ChunkSource.
func (cs *CreatingSource) Chunk(i int) ([]byte, error) {
	cs.mu.Lock()
	if i < 0 || i >= len(cs.offs)-1 {
		cs.mu.Unlock()
		return nil, fmt.Errorf("mcast: chunk %d not created yet", i)
	}
	off, end := cs.offs[i], cs.offs[i+1]
	cs.mu.Unlock()
	b := make([]byte, end-off)
	if _, err := cs.spool.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("mcast: reading spooled chunk %d: %w", i, err)
	}
	return b, nil
}

// MaxChunkSize is the chunk size being created.
func (cs *CreatingSource) MaxChunkSize() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.maxCh
}

// Err reports a failure of the creation (unreadable source, full spool).
func (cs *CreatingSource) Err() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.err
}

// Header returns the latest header: preliminary until the source ends.
func (cs *CreatingSource) Header() *image.Header {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.header
}

// Stats returns the creation's counters once it has finished.
func (cs *CreatingSource) Stats() image.CreateStats {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.stats
}

// Wait blocks until the creation has finished and returns its error.
func (cs *CreatingSource) Wait() error {
	<-cs.done
	return cs.Err()
}
