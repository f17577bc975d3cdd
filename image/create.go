package image

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// CreateConfig configures image creation. The zero value means: random
// image ID, 1 MiB chunks, fastest zstd level, one worker per CPU, every
// byte of the source considered in use.
type CreateConfig struct {
	ID        ID  // zero: random
	ChunkSize int // 0: DefaultChunkSize; else MinChunkSize..MaxChunkSize
	Level     int // zstd level 1..22; 0: 1 (fastest)
	Workers   int // compression goroutines; 0: GOMAXPROCS

	// Used lists the source bytes that matter, sorted; everything else is
	// skipped unread and becomes a gap. nil means all bytes. Filesystem
	// readers (package image/fsmap) fill it.
	Used []Range

	Source string       // Header.Source; "" uses the source's own description
	Logger *slog.Logger // nil: silent

	// Start, if set, is called once with the preliminary header before the
	// first chunk is emitted (an image file writes it first; a multicast
	// sender can announce it).
	Start func(*Header) error
	// Progress, if set, is called after each emitted chunk.
	Progress func(CreateStats)

	// Sign, if set, signs the complete header (CreateStats.Signature;
	// Create writes it into the index).
	Sign ed25519.PrivateKey
	// Encrypt, if set, seals every chunk's payload with this key. The
	// image ID must then be random (ID zero): nonces derive from it.
	Encrypt *Key

	// BlockSize is the block map's block size (a power of two, MinBlockSize
	// .. MaxBlockSize); 0 = DefaultBlockSize (no map for an encrypted
	// image: the plain blocks' hashes would let anyone confirm guesses of
	// their content); NoBlockMap = no block map.
	BlockSize int

	// delta, set by CreateIncremental, makes an incremental image: the
	// header names the base, and the block map is the new disk's (plan)
	// with this creation's spans.
	delta *deltaPlan
}

// NoBlockMap as CreateConfig.BlockSize creates an image without a block map.
const NoBlockMap = -1

// CreateStats counts a creation's work. Bytes are target bytes unless
// named otherwise.
type CreateStats struct {
	Position    int64 // target bytes covered by the chunks emitted so far
	ReadBytes   int64 // bytes read from the source
	DataBytes   int64 // bytes stored in chunks (uncompressed)
	ZeroBytes   int64 // all-zero blocks skipped
	UnusedBytes int64 // holes and unused space skipped unread
	StoredBytes int64 // encoded chunk bytes emitted
	Chunks      int   // chunks emitted
	RawChunks   int   // of which stored uncompressed
	Elapsed     time.Duration

	// Set when the creation completes: the manifest (SHA-256 of every
	// emitted chunk, whose root the complete header carries) and, with
	// CreateConfig.Sign, the signature of the complete header.
	Manifest  *Manifest
	Signature *Signature
	// BlockMap is the image's block map (nil if it has none).
	BlockMap *BlockMap
}

// NewID returns a random image ID.
func NewID() ID {
	var id ID
	rand.Read(id[:])
	return id
}

type createParams struct {
	chunkSize int
	maxRaw    int
	maxRanges int
	maxJob    int
	workers   int
	seal      int // room a chunk leaves for the sealing tag
}

const jobChunks = 4

func (cfg *CreateConfig) params() (createParams, error) {
	p := createParams{chunkSize: cfg.ChunkSize, workers: cfg.Workers}
	if p.chunkSize == 0 {
		p.chunkSize = DefaultChunkSize
	}
	if p.chunkSize < MinChunkSize || p.chunkSize > MaxChunkSize {
		return p, fmt.Errorf("image: chunk size %d outside %d..%d", p.chunkSize, MinChunkSize, MaxChunkSize)
	}
	if cfg.Level < 0 || cfg.Level > 22 {
		return p, fmt.Errorf("image: compression level %d outside 1..22", cfg.Level)
	}
	if p.workers <= 0 {
		p.workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Encrypt != nil {
		if !cfg.ID.IsZero() {
			// The same ID and key twice would reuse nonces.
			return p, errors.New("image: an encrypted image needs a fresh random ID (CreateConfig.ID must be zero)")
		}
		p.seal = sealOverhead
	}
	if cfg.Sign != nil && len(cfg.Sign) != ed25519.PrivateKeySize {
		return p, errors.New("image: signing key is not an ed25519 private key")
	}
	p.maxRaw = MaxRawLen(uint32(p.chunkSize))
	// A job holds about jobChunks chunks' worth of data: only a job's last
	// chunk can be partly empty, so bigger jobs fill chunks better.
	p.maxJob = min(jobChunks*p.maxRaw, 16<<20)
	// Keep a chunk's range list under an eighth of the chunk, and within
	// the 16-bit header length.
	p.maxRanges = min((p.chunkSize/8-chunkMinLen)/rangeLen, 3500)
	return p, nil
}

// CreateChunks reads src and produces the image's chunks, calling emit in
// index order (emit may keep the slice). It reads sequentially, skips
// holes, unused ranges and all-zero blocks, and compresses on
// cfg.Workers goroutines. It returns the complete header.
func CreateChunks(ctx context.Context, src *Source, cfg CreateConfig, emit func(index int, chunk []byte) error) (*Header, CreateStats, error) {
	start := time.Now()
	p, err := cfg.params()
	if err != nil {
		return nil, CreateStats{}, err
	}
	regions, err := src.regions(cfg.Used)
	if err != nil {
		return nil, CreateStats{}, err
	}
	level := cfg.Level
	if level == 0 {
		level = 1
	}
	h := &Header{
		ID:         cfg.ID,
		TargetSize: src.size,
		SectorSize: src.sector,
		ChunkSize:  uint32(p.chunkSize),
		Created:    time.Now().UTC().Truncate(time.Second),
		Source:     cfg.Source,
		Codec:      CodecZstd,
		Level:      level,
	}
	if cfg.Encrypt != nil {
		h.Encrypted, h.KeyID = true, cfg.Encrypt.ID()
	}
	var mb *mapBuilder
	if cfg.delta != nil {
		h.DeltaBase, h.BaseRoot, h.BlockSize = cfg.delta.baseID, cfg.delta.baseRoot, 1<<cfg.delta.shift
	} else if cfg.BlockSize != NoBlockMap {
		bs := cfg.BlockSize
		if bs == 0 {
			bs = DefaultBlockSize
		}
		// An encrypted image's map is keyed with the image key (blockmap_keyed.go):
		// plain hashes would let anyone confirm a guess of a block's content.
		if mb, err = newMapBuilder(bs, cfg.Encrypt); err != nil {
			return nil, CreateStats{}, err
		}
		h.BlockSize = bs
	}
	if h.ID.IsZero() {
		h.ID = NewID()
	}
	if h.Source == "" {
		h.Source = src.desc
	}
	h.Source = truncateUTF8(h.Source, MaxSourceLen)
	if err := h.validate(); err != nil {
		return nil, CreateStats{}, fmt.Errorf("image: bad source or config: %w", err)
	}
	if cfg.Start != nil {
		if err := cfg.Start(h.clone()); err != nil {
			return nil, CreateStats{}, err
		}
	}
	packers := make([]*packer, p.workers)
	for i := range packers {
		if packers[i], err = newPacker(p, level, h.ID, nil); err != nil {
			return nil, CreateStats{}, err
		}
		defer packers[i].close()
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ct := newCutter(src, regions, p, h.ID)
	ct.blocks = mb
	jobs := make(chan *job, p.workers)
	results := make(chan *result, p.workers)
	slots := make(chan struct{}, p.workers+2)
	go func() {
		defer close(jobs)
		if err := ct.run(ctx, jobs, slots); err != nil {
			cancel(err)
		}
	}()
	var wg sync.WaitGroup
	for _, pk := range packers {
		pk.ratio = &ct.ratio
		wg.Go(func() {
			for j := range jobs {
				r, err := pk.pack(j)
				ct.putBuf(j.buf)
				if err != nil {
					cancel(err)
					return
				}
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var st CreateStats
	var hashes []byte // the manifest, 32 bytes per emitted chunk
	var spans []int64 // span ends, for an incremental image's map
	em := emitter{pending: map[int]*result{}}
	for r := range results {
		if ctx.Err() != nil {
			continue // drain so the workers can finish
		}
		err := em.add(r, func(index int, c []byte, last bool, span Range, raw int, stored bool) error {
			if index >= MaxChunkCount {
				return fmt.Errorf("image: more than %d chunks; use a larger chunk size", MaxChunkCount)
			}
			count := uint32(0)
			if last {
				count = uint32(index) + 1
			}
			setChunkIndex(c, uint32(index), count, last)
			if cfg.Encrypt != nil {
				var err error
				if c, err = cfg.Encrypt.sealChunk(c); err != nil {
					return err
				}
			}
			sum := sha256.Sum256(c)
			hashes = append(hashes, sum[:]...)
			if mb != nil {
				mb.span(span.End())
			}
			if cfg.delta != nil {
				spans = append(spans, span.End())
			}
			if err := emit(index, c); err != nil {
				return err
			}
			st.Chunks++
			st.Position = span.End()
			st.DataBytes += int64(raw)
			st.StoredBytes += int64(len(c))
			if stored {
				st.RawChunks++
			}
			if cfg.Progress != nil {
				st.ReadBytes, st.ZeroBytes = ct.progress()
				st.Elapsed = time.Since(start)
				cfg.Progress(st)
			}
			return nil
		}, slots)
		if err != nil {
			cancel(err)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return nil, st, err
	}
	if !em.sawLast {
		return nil, st, errors.New("image: internal error: creation ended without a last chunk")
	}
	st.ReadBytes, st.ZeroBytes = ct.progress()
	h.TargetSize = ct.size
	st.UnusedBytes = h.TargetSize - st.ReadBytes
	st.Elapsed = time.Since(start)
	h.Complete = true
	h.ChunkCount = uint32(st.Chunks)
	h.DataBytes, h.ZeroBytes, h.UnusedBytes, h.StoredBytes = st.DataBytes, st.ZeroBytes, st.UnusedBytes, st.StoredBytes
	if h.ChunkCount > maxManifestChunks(h.ChunkSize) {
		return nil, st, fmt.Errorf("image: %d chunks: too many for the manifest at chunk size %d; use a larger chunk size", h.ChunkCount, h.ChunkSize)
	}
	var mapb []byte
	if d := cfg.delta; d != nil {
		if st.BlockMap, err = d.blockMap(spans); err != nil {
			return nil, st, err
		}
		mapb = st.BlockMap.raw
		h.BlockMapLen = uint32(len(mapb))
	} else if mb != nil {
		// The cutter has finished (results closed after it): the map is whole.
		if st.BlockMap = mb.done(); st.BlockMap != nil {
			mapb = st.BlockMap.raw
			h.BlockMapLen = uint32(len(mapb))
		} else {
			h.BlockSize = 0
			if l := cfg.Logger; l != nil {
				l.Warn("image: block map too large, image made without one (use a larger block size)", "limit", MaxBlockMapLen)
			}
		}
	}
	if err := h.validate(); err != nil {
		return nil, st, fmt.Errorf("image: %w (use a larger chunk or block size)", err)
	}
	st.Manifest = newManifest(h.ChunkSize, hashes, mapb)
	h.ManifestRoot = st.Manifest.Root()
	if err := h.validate(); err != nil {
		return nil, st, fmt.Errorf("image: internal error: %w", err)
	}
	if cfg.Sign != nil {
		if st.Signature, err = Sign(h, cfg.Sign); err != nil {
			return nil, st, err
		}
	}
	if l := cfg.Logger; l != nil {
		l.Info("image created", "id", h.ID, "target", h.TargetSize, "chunks", h.ChunkCount,
			"stored", h.StoredBytes, "zero", h.ZeroBytes, "unused", h.UnusedBytes, "elapsed", st.Elapsed)
	}
	return h, st, nil
}

func (h *Header) clone() *Header { c := *h; return &c }

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
