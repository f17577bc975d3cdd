package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/klauspost/compress/zstd"
)

// AddOptions tunes Add. The zero value stores every byte of the source,
// compresses at zstd level 3 on one goroutine per CPU and records no base.
type AddOptions struct {
	// Used lists the source bytes that matter, sorted (image/fsmap's
	// Map.Used, as for image.CreateConfig.Used); the rest is never read
	// and reads back as zeros. nil: all of it.
	Used []image.Range
	// Base names an image of the repository the new one derives from
	// (checked to exist; recorded for listings). Blocks are shared with
	// every image either way.
	Base       string
	Source     string // what the image is made from, for listings and exports
	SectorSize uint32 // 0: 512
	Level      int    // zstd level 1..22; 0: 3
	Workers    int    // compression goroutines; 0: GOMAXPROCS
	// Progress, if set, is called now and then with the used bytes read
	// so far and their total.
	Progress func(done, total int64)
}

// AddStats counts what an Add did. Bytes are uncompressed unless named
// otherwise.
type AddStats struct {
	UsedBytes   int64 // bytes of the used ranges
	Blocks      int64 // blocks the used ranges touch
	ZeroBlocks  int64 // all-zero blocks (not stored)
	DupBlocks   int64 // blocks already stored (by another image or earlier in this one)
	NewBlocks   int64 // blocks stored by this add
	NewBytes    int64 // their bytes
	StoredBytes int64 // compressed bytes of the new packs, index included
	RecipeBytes int64
	Elapsed     time.Duration
}

// maxPackBytes is where an add starts a new pack file.
const maxPackBytes = 1 << 30

// crashAt, set by tests, makes Add stop at the named stage as if the
// process had died there: no clean-up, no catalog.
var crashAt string

var errCrash = errors.New("repo: simulated crash")

// AddSource is Add for an image.Source (what fsmap.OpenSource gives): its
// description becomes the recorded source unless opt.Source is set.
func (r *Repo) AddSource(ctx context.Context, name string, src *image.Source, opt AddOptions) (AddStats, error) {
	if src.ReaderAt() == nil || src.Size() < 0 {
		return AddStats{}, errors.New("repo: a stream cannot be added (the repository needs a file or device)")
	}
	return r.Add(ctx, name, src.ReaderAt(), src.Size(), opt)
}

// Add stores the disk read from src (size bytes) as image name. It is
// all or nothing: until the final catalog rename, nothing it wrote is
// part of the repository, and an error (or a crash) leaves the
// repository as it was.
func (r *Repo) Add(ctx context.Context, name string, src io.ReaderAt, size int64, opt AddOptions) (st AddStats, err error) {
	start := time.Now()
	if err := CheckName(name); err != nil {
		return st, fmt.Errorf("repo: %w", err)
	}
	if size < 0 {
		return st, fmt.Errorf("repo: source size %d", size)
	}
	if opt.Level < 0 || opt.Level > 22 {
		return st, fmt.Errorf("repo: zstd level %d outside 1..22", opt.Level)
	}
	used := []image.Range{{Off: 0, Len: size}}
	if opt.Used != nil {
		if used, err = clipUsed(opt.Used, size); err != nil {
			return st, err
		}
	} else if size == 0 {
		used = nil
	}
	unlock, err := r.lock()
	if err != nil {
		return st, err
	}
	defer unlock()
	r.mu.Lock()
	err = r.load() // another process may have committed since Open
	cat, index := r.cat.clone(), r.index
	r.mu.Unlock()
	if err != nil {
		return st, err
	}
	if _, ok := cat.image(name); ok {
		return st, fmt.Errorf("%w: %q", ErrExists, name)
	}
	var base *Recipe
	var baseHash Hash
	if opt.Base != "" {
		i, ok := cat.image(opt.Base)
		if !ok {
			return st, fmt.Errorf("repo: base: %w: %q", ErrNotFound, opt.Base)
		}
		r.mu.Lock()
		base, err = r.readRecipe(cat.Images[i])
		r.mu.Unlock()
		if err != nil {
			return st, err
		}
		baseHash = cat.Images[i].RecipeHash
	}
	sector := opt.SectorSize
	if sector == 0 {
		sector = 512
	}
	rc := &Recipe{BlockSize: cat.BlockSize, TargetSize: size, SectorSize: sector,
		Created: time.Now().UTC(), Source: opt.Source, Base: opt.Base, Used: used}
	if len(rc.Source) > maxSourceLen {
		rc.Source = rc.Source[:maxSourceLen]
	}

	pw := &packWriter{dir: r.dir, cat: cat, nextID: cat.NextPack}
	crashed := false
	defer func() {
		if err != nil && !crashed {
			pw.abort()
		}
	}()
	if err = r.storeBlocks(ctx, src, rc, index, pw, opt, &st); err != nil {
		crashed = errors.Is(err, errCrash)
		return st, err
	}
	if err = pw.finish(); err != nil {
		return st, err
	}
	if crashAt == "packs" {
		crashed = true
		return st, errCrash
	}
	if base != nil && base.depth() < maxDeltaDepth-1 {
		rc.delta = makeDelta(rc.Used, rc.Blocks, base, baseHash)
	}
	b := rc.marshal()
	ref := imageRef{Name: name, RecipeHash: sha256.Sum256(b), RecipeSize: uint64(len(b))}
	if err = writeAtomic(filepath.Join(r.dir, "images"), recipeName(ref.RecipeHash), b); err != nil {
		return st, err
	}
	pw.recipe = filepath.Join(r.dir, "images", recipeName(ref.RecipeHash))
	if crashAt == "recipe" {
		crashed = true
		return st, errCrash
	}
	cat.Packs = append(cat.Packs, pw.refs...)
	cat.NextPack = pw.nextID
	cat.Images = append(cat.Images, ref)
	r.mu.Lock()
	committed, err := r.commit(cat)
	r.mu.Unlock()
	crashed = committed // what the catalog names stays
	if err != nil {
		return st, err
	}
	for _, ref := range pw.refs {
		st.StoredBytes += int64(ref.Size)
	}
	st.RecipeBytes = int64(len(b))
	st.Elapsed = time.Since(start)
	if r.log != nil {
		r.log.Info("image added", "name", name, "blocks", st.Blocks, "new", st.NewBlocks,
			"stored", st.StoredBytes, "elapsed", st.Elapsed)
	}
	return st, nil
}

// clipUsed checks caller-given used ranges and clips them to the source.
func clipUsed(in []image.Range, size int64) ([]image.Range, error) {
	var out []image.Range
	prev := int64(0)
	for _, u := range in {
		if u.Off < prev || u.Len <= 0 || u.Off > 1<<62 || u.Len > 1<<62 {
			return nil, errors.New("repo: AddOptions.Used: ranges not sorted, overlapping or empty")
		}
		prev = u.End()
		if u.Off >= size {
			break
		}
		u.Len = min(u.Len, size-u.Off)
		out = append(out, u)
	}
	return out, nil
}

// pendingFrame is a frame being filled or compressed.
type pendingFrame struct {
	raw    []byte
	blocks []Hash
	lens   []uint32
	out    []byte
	codec  uint8
}

// storeBlocks reads every used block, hashes it and hands the new ones,
// in frames, to compressing workers and then to pw.
func (r *Repo) storeBlocks(ctx context.Context, src io.ReaderAt, rc *Recipe, index map[Hash]blockLoc,
	pw *packWriter, opt AddOptions, st *AddStats) error {
	bs := int64(rc.BlockSize)
	frameSize := int(pw.cat.FrameSize)
	level := opt.Level
	if level == 0 {
		level = 3
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo := make(chan *pendingFrame, workers)
	done := make(chan *pendingFrame, workers)
	var wg sync.WaitGroup
	for range workers {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(1))
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer enc.Close()
			for f := range todo {
				f.out, f.codec = enc.EncodeAll(f.raw, nil), codecZstd
				if len(f.out) >= len(f.raw) {
					f.out, f.codec = f.raw, codecNone
				}
				select {
				case done <- f:
				case <-ctx.Done():
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for f := range done {
			if err == nil {
				if err = pw.add(f); err == nil && crashAt == "frame" {
					err = errCrash
				}
				if err != nil {
					cancel(err)
				}
			}
		}
		writeErr <- err
	}()

	st.UsedBytes = rc.UsedBytes()
	rc.Blocks = make([]Hash, 0, countBlocks(rc.Used, bs))
	pending := map[Hash]bool{}
	cur := &pendingFrame{raw: make([]byte, 0, frameSize)}
	buf := make([]byte, bs)
	ri := 0
	var readErr error
	var doneBytes int64
	lastProgress := time.Now()
	usedBlocks(rc.Used, bs, func(k int64) bool {
		if err := context.Cause(ctx); err != nil {
			readErr = err
			return false
		}
		lo, hi := k*bs, min((k+1)*bs, rc.TargetSize)
		b := buf[:hi-lo]
		clear(b)
		for ri < len(rc.Used) && rc.Used[ri].End() <= lo {
			ri++
		}
		for j := ri; j < len(rc.Used) && rc.Used[j].Off < hi; j++ {
			a, e := max(rc.Used[j].Off, lo), min(rc.Used[j].End(), hi)
			if n, err := src.ReadAt(b[a-lo:e-lo], a); n != int(e-a) {
				readErr = fmt.Errorf("repo: reading the source at %d: %w", a, errors.Join(err, io.ErrUnexpectedEOF))
				return false
			}
			doneBytes += e - a
		}
		st.Blocks++
		if allZero(b) {
			st.ZeroBlocks++
			rc.Blocks = append(rc.Blocks, zeroHash)
			return true
		}
		h := Hash(sha256.Sum256(b))
		rc.Blocks = append(rc.Blocks, h)
		if _, ok := index[h]; ok || pending[h] {
			st.DupBlocks++
			return true
		}
		pending[h] = true
		st.NewBlocks++
		st.NewBytes += int64(len(b))
		if len(cur.raw)+len(b) > frameSize {
			select {
			case todo <- cur:
			case <-ctx.Done():
				readErr = context.Cause(ctx)
				return false
			}
			cur = &pendingFrame{raw: make([]byte, 0, frameSize)}
		}
		cur.raw = append(cur.raw, b...)
		cur.blocks = append(cur.blocks, h)
		cur.lens = append(cur.lens, uint32(len(b)))
		if opt.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
			opt.Progress(doneBytes, st.UsedBytes)
			lastProgress = time.Now()
		}
		return true
	})
	if readErr == nil && len(cur.blocks) > 0 {
		select {
		case todo <- cur:
		case <-ctx.Done():
			readErr = context.Cause(ctx)
		}
	}
	close(todo)
	werr := <-writeErr
	if opt.Progress != nil && readErr == nil && werr == nil {
		opt.Progress(doneBytes, st.UsedBytes)
	}
	if werr != nil {
		return werr
	}
	return readErr
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// packWriter appends compressed frames to temporary pack files and, in
// finish, closes them with their index, fsyncs and renames them to their
// final names. Nothing names them until the catalog is committed.
type packWriter struct {
	dir    string
	cat    *catalog
	nextID uint64
	f      *os.File
	off    int64
	frames []frame
	tmps   []string // temporary files, for abort
	final  []string // renamed packs, for abort
	refs   []packRef
	recipe string
}

func (pw *packWriter) add(f *pendingFrame) error {
	if pw.f != nil && pw.off+int64(len(f.out)) > maxPackBytes {
		if err := pw.close(); err != nil {
			return err
		}
	}
	if pw.f == nil {
		tmp, err := os.CreateTemp(filepath.Join(pw.dir, "packs"), ".tmp-pack-*")
		if err != nil {
			return err
		}
		pw.f, pw.tmps, pw.frames = tmp, append(pw.tmps, tmp.Name()), nil
		if err := tmp.Chmod(0o644); err != nil {
			return err
		}
		if _, err := tmp.Write(packHeader(pw.cat.BlockSize)); err != nil {
			return err
		}
		pw.off = packHeadLen
	}
	if _, err := pw.f.Write(f.out); err != nil {
		return fmt.Errorf("repo: writing a pack: %w", err)
	}
	pw.frames = append(pw.frames, frame{Off: pw.off, Stored: uint32(len(f.out)), Raw: uint32(len(f.raw)),
		Codec: f.codec, Blocks: f.blocks, Lens: f.lens})
	pw.off += int64(len(f.out))
	return nil
}

// close ends the current pack: index, trailer, fsync, rename.
func (pw *packWriter) close() error {
	idx := marshalPackIndex(pw.frames)
	tr := packTrailer(pw.off, idx)
	_, err := pw.f.Write(append(idx, tr...))
	if err == nil {
		err = pw.f.Sync()
	}
	tmp := pw.f.Name()
	if cerr := pw.f.Close(); err == nil {
		err = cerr
	}
	pw.f = nil
	if err != nil {
		return err
	}
	id := pw.nextID
	final := filepath.Join(pw.dir, "packs", packName(id))
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	pw.nextID++
	pw.final = append(pw.final, final)
	pw.refs = append(pw.refs, packRef{ID: id, Size: uint64(pw.off) + uint64(len(idx)) + packTrLen,
		IndexHash: sha256.Sum256(idx)})
	return nil
}

func (pw *packWriter) finish() error {
	if pw.f != nil {
		if err := pw.close(); err != nil {
			return err
		}
	}
	return syncDir(filepath.Join(pw.dir, "packs"))
}

// abort removes what a failed add wrote (none of it is in the catalog).
func (pw *packWriter) abort() {
	if pw.f != nil {
		pw.f.Close()
	}
	for _, p := range append(pw.tmps, pw.final...) {
		os.Remove(p)
	}
	if pw.recipe != "" {
		os.Remove(pw.recipe)
	}
}
