package image

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// InstallConfig configures an Installer. The zero value means one worker
// per CPU, a window of 2×workers+2 chunks, gaps left untouched, a target
// that must already be large enough, and no logging.
type InstallConfig struct {
	Workers int     // decompress-and-write goroutines; 0: GOMAXPROCS
	Window  int     // chunks accepted but not yet written, at most; 0: 2*Workers+2
	Gaps    GapMode // what to do with gaps; default GapLeave
	// Grow lets a regular file smaller than the image be extended to the
	// image's size instead of being refused.
	Grow   bool
	Logger *slog.Logger
	// Decrypt is the key of an encrypted image. NewInstaller refuses an
	// encrypted image without it, or with a key of another ID (ErrKey);
	// it is ignored for an image that is not encrypted.
	Decrypt *Key
	// Incremental accepts an incremental image's header (ErrVersion without
	// it): for a session that also carries the increment's reference chunks
	// and gives the installer the new block map (SetBlockMap, install_incr.go).
	// Close then succeeds only with every block of that map on the target.
	Incremental bool
}

// InstallStats is a snapshot of an installation's progress.
type InstallStats struct {
	Accepted    int   // chunks verified and queued (or written)
	Written     int   // chunks decompressed and written
	Duplicates  int   // chunks received again and ignored
	Rejected    int   // chunks refused (corrupt, foreign, out of bounds)
	ChunkBytes  int64 // encoded bytes of accepted chunks
	DataBytes   int64 // bytes written from chunks
	GapBytes    int64 // gap bytes zeroed or discarded
	Held        int   // chunks the target already held (Installer.Held): not written
	HeldBytes   int64 // their used bytes
	WriteBytes  int64 // bytes of chunks actually written to the target
	SkipBytes   int64 // bytes of received chunks not written: their blocks were on the target
	Elapsed     time.Duration
	TotalChunks int // chunk count if known, else 0
}

// Installer writes an image's chunks to a target as they arrive, in any
// order. Put verifies each chunk at once and hands it to a worker; memory
// is bounded by the window of chunks in flight.
type Installer struct {
	target    io.WriterAt
	name      string
	cfg       InstallConfig
	dec       *zstd.Decoder
	jobs      chan installJob
	slots     chan struct{}
	bufs      chan *[]byte // chunk copies for reuse, at most Window of them
	wg        sync.WaitGroup
	start     time.Time
	reg       *os.File // target if it is a regular file (for Grow)
	size      int64    // target size if known, else -1
	chunkSize int

	mu sync.Mutex
	chunkBook
	done    bitset // written
	fatal   error
	badData error // the first chunk that passed its checksums but did not decompress
	closed  bool
	written atomic.Int64

	incr *incrInstall // an incremental image's reference chunks (install_incr.go); nil for a full image

	present     []bool // blocks of presentMap the target holds (SetPresent): not written
	presentMap  *BlockMap
	presentGate chan struct{} // writes wait while set (AwaitPresent)
	skipped     atomic.Int64  // bytes not written because the target held them
}

// NewInstaller prepares to install the image described by h onto target.
// It refuses a target smaller than the image before writing anything: the
// size comes from a Size() int64 method, a regular file's length or a
// block device's BLKGETSIZE64. h may be preliminary (from an announcement
// or a streamed image); give the final one with SetHeader before Close.
func NewInstaller(target io.WriterAt, h *Header, cfg InstallConfig) (*Installer, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	var incr *incrInstall
	if !h.DeltaBase.IsZero() {
		if !cfg.Incremental || !h.Complete {
			return nil, fmt.Errorf("%w: an incremental image needs its base (mcimage extract --base, or a session that serves it)", ErrVersion)
		}
		incr = &incrInstall{}
	}
	if err := checkKey(h, cfg.Decrypt); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Window <= 0 {
		cfg.Window = 2*cfg.Workers + 2
	}
	in := &Installer{target: target, name: targetName(target), cfg: cfg, size: -1, chunkSize: int(h.ChunkSize),
		chunkBook: newChunkBook(h, "installed", "installed"), incr: incr}
	size, known, reg, err := targetSize(target)
	if err != nil {
		return nil, fmt.Errorf("image: %s: %w", in.name, err)
	}
	if known {
		in.size = size
	}
	in.reg = reg
	if err := in.checkSize(h.TargetSize); err != nil {
		return nil, err
	}
	in.dec, err = newChunkDecoder(h, cfg.Workers)
	if err != nil {
		return nil, err
	}
	in.bufs = make(chan *[]byte, cfg.Window)
	in.jobs = make(chan installJob, cfg.Window)
	in.slots = make(chan struct{}, cfg.Window)
	for range cfg.Workers {
		in.wg.Go(in.work)
	}
	return in, nil
}

// Put verifies one encoded chunk and queues it for writing. A bad chunk
// gets a *ChunkError (wrapping ErrCorrupt, ErrForeignImage, ...) and
// nothing of it is written, so the caller can fetch it again. Duplicates
// are ignored. Put blocks while the window is full. chunk may be reused
// once Put returns. Put is safe for concurrent use, but not concurrently
// with Close.
func (in *Installer) Put(ctx context.Context, chunk []byte) error {
	return in.put(ctx, chunk, nil, nil, true)
}

// PutOwned is Put without the copy: on a nil error the installer owns chunk
// (the caller must not touch it again) and calls release once it is done
// with it (written, dropped, or at once for a duplicate), from one of its
// goroutines. On an error nothing was taken: chunk and release stay the
// caller's. A receiver hands a rebuilt chunk's decoder buffer over this
// way, release returning it to the decoder pool (fec.Decoder.Release).
func (in *Installer) PutOwned(ctx context.Context, chunk []byte, release func()) error {
	return in.putOwned(ctx, chunk, release, true)
}

// PutOwnedChecked is PutOwned for a chunk whose SHA-256 the caller has matched
// against the image's manifest (ManifestChecker.CheckChunk): its bytes are then
// exactly the creator's, so the payload's xxHash64, which could only fail where the
// SHA-256 already would have, is not computed again (a receiver's second pass over
// every byte, ~5 % of its CPU). Everything else is checked as by Put.
func (in *Installer) PutOwnedChecked(ctx context.Context, chunk []byte, release func()) error {
	return in.putOwned(ctx, chunk, release, false)
}

func (in *Installer) putOwned(ctx context.Context, chunk []byte, release func(), payloadSum bool) error {
	taken := false
	err := in.put(ctx, chunk, release, &taken, payloadSum)
	if err == nil && !taken && release != nil {
		release() // a duplicate: nothing of it is kept
	}
	return err
}

func (in *Installer) put(ctx context.Context, chunk []byte, release func(), taken *bool, payloadSum bool) error {
	ch, _, err := parseChunkErr(chunk, payloadSum)
	if err == nil && ch.DeltaBase != nil {
		return in.putRef(ctx, ch, chunk) // verified and written at once: nothing is taken
	}
	in.mu.Lock()
	if in.closed || in.fatal != nil {
		err := in.fatal
		in.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return err
	}
	if err != nil {
		in.stats.Rejected++
		in.mu.Unlock()
		return err
	}
	// A last chunk completes the header even when its index was taken by
	// another chunk: what it says about the image is checked all the same.
	dup, err := in.admit(ch, in.fits)
	if err == nil && ch.Last && !in.h.Complete {
		err = in.completeFrom(ch)
	}
	if err != nil || dup {
		if dup {
			in.stats.Duplicates++
		}
		in.mu.Unlock()
		return err
	}
	i := int(ch.Index)
	in.accept(ch, len(chunk))
	in.mu.Unlock()

	select {
	case in.slots <- struct{}{}:
	case <-ctx.Done():
		in.mu.Lock()
		in.unaccept(i, len(chunk))
		in.mu.Unlock()
		return context.Cause(ctx)
	}
	if taken != nil {
		*taken = true
		in.jobs <- installJob{ch: ch, owned: chunk, release: release}
		return nil
	}
	var b *[]byte
	select {
	case b = <-in.bufs:
	default:
		nb := make([]byte, 0, in.chunkSize)
		b = &nb
	}
	*b = append((*b)[:0], chunk...)
	in.jobs <- installJob{ch: ch, buf: b}
	return nil
}

// Have reports whether chunk i has been accepted (verified and queued or
// written).
func (in *Installer) Have(i int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.have.get(i)
}

// Missing lists up to max chunk indexes not accepted yet (all if max <= 0).
// With a preliminary header it can only list gaps below the highest index
// seen.
func (in *Installer) Missing(max int) []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.missing(max)
}

// Stats returns a snapshot of the installation's progress.
func (in *Installer) Stats() InstallStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.snapshot()
	s.WriteBytes, s.SkipBytes = in.written.Load(), in.skipped.Load()
	if in.incr != nil && in.incr.layout != nil && s.TotalChunks > 0 {
		s.TotalChunks += in.incr.layout.Chunks() // an increment's reference chunks too
	}
	return s
}

// Close waits for the queued chunks to be written, flushes the target if
// it can (Sync), and reports success only if every chunk of the image was
// verified and written; otherwise the error names the missing chunks or
// the failed write.
func (in *Installer) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return ErrClosed
	}
	in.closed = true
	in.openGate()
	in.mu.Unlock()
	close(in.jobs)
	in.wg.Wait()
	in.dec.Close()

	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fatal != nil {
		return in.fatal
	}
	// The header completes as the last chunk comes (Put), so final never
	// has to make one up from it here.
	h, _, err := in.final()
	if err != nil {
		return err
	}
	if err := incomplete(&in.done, h); err != nil {
		if in.badData != nil {
			err = fmt.Errorf("%w; %w", err, in.badData)
		}
		return err
	}
	if in.incr != nil {
		if err := in.closeIncr(); err != nil {
			return err
		}
	}
	if s, ok := in.target.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("image: flushing %s: %w", in.name, err)
		}
	}
	if l := in.cfg.Logger; l != nil {
		l.Info("image installed", "target", in.name, "chunks", in.h.ChunkCount, "elapsed", time.Since(in.start))
	}
	return nil
}
