package session

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

// ImageSource serves the chunks of an image file, followed by its manifest
// (the table and pieces that let receivers check every chunk before writing it;
// docs/FORMAT.md): session chunk i < n is image chunk i, n+j is manifest part j.
type ImageSource struct {
	r    *image.Reader
	meta []byte
	n    int
	mu   sync.Mutex
	err  error
	free [][]byte // chunk buffers the sender handed back (RecycleChunk)
}

// maxFree bounds the chunk buffers an ImageSource keeps for reuse: a sender evicts one
// chunk per chunk it loads, so two cover it.
const maxFree = 2

// NewImageSource wraps an opened image file as a ChunkSource. Its meta is the
// image header and, for a signed image, the signature.
func NewImageSource(r *image.Reader) (*ImageSource, error) {
	meta, err := image.MarshalMeta(r.Header(), r.Signature())
	if err != nil {
		return nil, err
	}
	return &ImageSource{r: r, meta: meta, n: r.NumChunks()}, nil
}

// Meta implements ChunkSource: the image header (and signature).
func (s *ImageSource) Meta() []byte { return s.meta }

// ChunkCount implements ChunkSource: the image's chunks and its manifest's parts.
func (s *ImageSource) ChunkCount() (int, bool) { return s.n + s.r.ManifestParts(), true }

// Lead is the number of manifest parts, which receivers fetch first.
func (s *ImageSource) Lead() int { return s.r.ManifestParts() }

// Chunk implements ChunkSource. It verifies an image chunk first: a corrupt
// image must fail the session, not send receivers data they would reject
// and ask for again for ever. Each call returns a slice of its own (the
// sender keeps the chunks whose parity it caches): a fresh one, or one the
// sender handed back (RecycleChunk).
func (s *ImageSource) Chunk(i int) ([]byte, error) {
	var c []byte
	var err error
	if i >= s.n {
		c, err = s.r.ManifestPart(i - s.n)
	} else {
		var buf []byte
		s.mu.Lock()
		if k := len(s.free); k > 0 {
			buf, s.free[k-1] = s.free[k-1], nil
			s.free = s.free[:k-1]
		}
		s.mu.Unlock()
		_, c, err = s.r.VerifyChunk(i, buf)
	}
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return c, err
}

// RecycleChunk takes back the slice Chunk returned for chunk i once its caller is
// done with it (mcast.Sender: the chunk left its encoder cache); a later Chunk reads
// into it instead of allocating. A manifest part's slice is the manifest's own and
// is never reused.
func (s *ImageSource) RecycleChunk(i int, b []byte) {
	if i < 0 || i >= s.n || cap(b) == 0 {
		return
	}
	s.mu.Lock()
	if len(s.free) < maxFree {
		s.free = append(s.free, b[:0])
	}
	s.mu.Unlock()
}

// Err reports the first chunk that failed verification.
func (s *ImageSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// SessionBytes is the bytes of the image's chunks (the manifest's apart).
func (s *ImageSource) SessionBytes() int64 {
	if s.n == 0 {
		return 0
	}
	first, _ := s.r.ChunkOffset(0)
	last, n := s.r.ChunkOffset(s.n - 1)
	return last + int64(n) - first
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
	man    *image.Manifest // once final: served after the chunks, as an ImageSource does
}

// NewCreatingSource starts creating chunks from src into spool (a temporary
// file the caller removes afterwards) and returns once the preliminary
// header is known. Cancelling ctx stops the creation.
func NewCreatingSource(ctx context.Context, src *image.Source, cfg image.CreateConfig, spool *os.File) (*CreatingSource, error) {
	cs := &CreatingSource{spool: spool, offs: []int64{0}, done: make(chan struct{})}
	started := make(chan struct{})
	userStart := cfg.Start
	cfg.Start = func(h *image.Header) error {
		meta, err := image.MarshalMeta(h, nil)
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
		meta, merr := image.MarshalMeta(h, st.Signature)
		if merr != nil {
			cs.err = merr
			return
		}
		cs.meta, cs.header, cs.man, cs.final = meta, h, st.Manifest, true
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

// ChunkCount implements ChunkSource: the chunks so far and, once the source
// ended, the manifest's parts after them.
func (cs *CreatingSource) ChunkCount() (int, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.offs) - 1 + manifestParts(cs.man), cs.final
}

// Lead is the number of manifest parts (0 until the source ended).
func (cs *CreatingSource) Lead() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return manifestParts(cs.man)
}

func manifestParts(m *image.Manifest) int {
	if m == nil {
		return 0
	}
	return m.Parts()
}

// Chunk implements ChunkSource.
func (cs *CreatingSource) Chunk(i int) ([]byte, error) {
	cs.mu.Lock()
	if n := len(cs.offs) - 1; i >= n && cs.man != nil {
		m := cs.man
		cs.mu.Unlock()
		return m.Part(i - n)
	}
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
