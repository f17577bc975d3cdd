package repo

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/klauspost/compress/zstd"
)

// Config is what Init fixes for the life of a repository. The zero value
// means 16 KiB blocks in 4 MiB frames.
type Config struct {
	BlockSize int // 0: DefaultBlockSize; a power of two in 4 KiB..1 MiB
	FrameSize int // 0: DefaultFrameSize (at least one block); a multiple of BlockSize up to 16 MiB
}

// Repo is an open repository. Its methods are safe for concurrent use;
// changes (Add, Remove, GC) also lock the directory against other
// processes.
type Repo struct {
	dir    string
	log    *slog.Logger
	mu     sync.Mutex
	cat    *catalog
	packs  []*os.File // parallel to cat.Packs
	frames [][]frame
	index  map[Hash]blockLoc
	cache  frameCache
	dec    *zstd.Decoder
	// inflight holds the frames being decoded ahead (readAhead); gen
	// counts reloads, so a read-ahead of a replaced pack is dropped.
	inflight map[[2]uint32]chan struct{}
	gen      uint64
}

const catalogName = "catalog"

// Init creates an empty repository in dir (created if missing; it must
// not already hold a repository).
func Init(dir string, cfg Config) error {
	bs, fsz := uint32(cfg.BlockSize), uint32(cfg.FrameSize)
	if bs == 0 {
		bs = DefaultBlockSize
	}
	if fsz == 0 {
		fsz = max(DefaultFrameSize, bs)
	}
	if err := checkSizes(bs, fsz); err != nil {
		return fmt.Errorf("repo: %v", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "packs"), filepath.Join(dir, "images")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, catalogName)); err == nil {
		return fmt.Errorf("repo: %s already holds a repository", dir)
	}
	c := &catalog{BlockSize: bs, FrameSize: fsz}
	return writeAtomic(dir, catalogName, c.marshal())
}

// Open opens the repository in dir: it reads the catalog and the index of
// every pack (checked against the catalog), not the blocks. logger may be
// nil.
func Open(dir string, logger *slog.Logger) (*Repo, error) {
	r := &Repo{dir: dir, log: logger}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(MaxFrameSize))
	if err != nil {
		return nil, err
	}
	r.dec = dec
	if err := r.load(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// load (re)reads the catalog and pack indexes. Called with mu held or
// before r is shared.
func (r *Repo) load() error {
	b, err := os.ReadFile(filepath.Join(r.dir, catalogName))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", r.dir, ErrNotRepo)
	} else if err != nil {
		return err
	}
	c, err := parseCatalog(b)
	if err != nil {
		return err
	}
	for _, f := range r.packs {
		f.Close()
	}
	r.cat, r.packs, r.frames, r.index = c, nil, nil, map[Hash]blockLoc{}
	r.cache = frameCache{}
	r.gen++ // read-aheads under way see it and drop their frame
	r.inflight = map[[2]uint32]chan struct{}{}
	for pi, ref := range c.Packs {
		f, frames, err := openPack(filepath.Join(r.dir, "packs", packName(ref.ID)), ref, c.BlockSize, c.FrameSize)
		if err != nil {
			return err
		}
		r.packs = append(r.packs, f)
		r.frames = append(r.frames, frames)
		for fi, fr := range frames {
			off := uint32(0)
			for j, h := range fr.Blocks {
				if _, dup := r.index[h]; !dup {
					r.index[h] = blockLoc{pack: uint32(pi), frame: uint32(fi), off: off, len: fr.Lens[j]}
				}
				off += fr.Lens[j]
			}
		}
	}
	return nil
}

// Close releases the pack files.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.packs {
		f.Close()
	}
	r.packs = nil
	r.gen++ // read-aheads under way drop their frame
	if r.dec != nil {
		r.dec.Close()
	}
	return nil
}

// Dir is the repository's directory.
func (r *Repo) Dir() string { return r.dir }

// BlockSize is the repository's block size.
func (r *Repo) BlockSize() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int(r.cat.BlockSize)
}

// Names lists the images in the order they were added.
func (r *Repo) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []string
	for _, im := range r.cat.Images {
		n = append(n, im.Name)
	}
	return n
}

// lock takes the repository's change lock (flock on dir/lock), released
// by the returned function. It waits for another process's change.
func (r *Repo) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("repo: locking %s: %w", r.dir, err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// commit replaces the catalog with c (the last step of every change) and
// reloads. Called with the lock and mu held. committed reports whether the
// new catalog is in place (then what it names must not be cleaned up,
// even if reloading failed).
func (r *Repo) commit(c *catalog) (committed bool, err error) {
	c.Generation++
	if err := writeAtomic(r.dir, catalogName, c.marshal()); err != nil {
		// Renamed but not synced: the new catalog may be what a reader
		// sees, so what it names must stay.
		return errors.Is(err, errNotSynced), err
	}
	return true, r.load()
}

// writeAtomic writes b to dir/name through a temporary file: written,
// fsynced, renamed over name, and the directory fsynced, so that name
// holds either its old bytes or all of b after a crash.
func writeAtomic(dir, name string, b []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o644) // CreateTemp makes 0600; the repository is readable like its images
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%w: %w", errNotSynced, err)
	}
	return nil
}

// errNotSynced is writeAtomic's error when the file is in place but its
// directory could not be synced.
var errNotSynced = errors.New("repo: renamed but the directory sync failed")

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func recipeName(h [32]byte) string { return hex.EncodeToString(h[:]) + ".rcp" }

// readRecipe reads and checks the recipe the catalog entry names.
func (r *Repo) readRecipe(im imageRef) (*Recipe, error) {
	p := filepath.Join(r.dir, "images", recipeName(im.RecipeHash))
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if uint64(st.Size()) != im.RecipeSize {
		return nil, corrupt("%s: %d bytes, the catalog says %d", p, st.Size(), im.RecipeSize)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	if sha256.Sum256(b) != im.RecipeHash {
		return nil, corrupt("%s: checksum mismatch", p)
	}
	return r.resolveRecipe(p, b, 0)
}

// resolveRecipe parses the recipe file p (bytes b, already checked
// against its hash) and, for a delta, reads its base recipe (by hash) and
// computes the block list; depth counts the deltas above it.
func (r *Repo) resolveRecipe(p string, b []byte, depth int) (*Recipe, error) {
	rc, err := parseRecipe(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if rc.BlockSize != r.cat.BlockSize {
		return nil, corrupt("%s: block size %d, the repository's is %d", p, rc.BlockSize, r.cat.BlockSize)
	}
	if rc.delta == nil {
		return rc, nil
	}
	if depth >= maxDeltaDepth {
		return nil, corrupt("%s: a chain of more than %d delta recipes", p, maxDeltaDepth)
	}
	bp := filepath.Join(r.dir, "images", recipeName(rc.delta.Base))
	bb, err := readLimited(bp, maxRecipeFile)
	if err != nil {
		return nil, fmt.Errorf("%s: its base recipe: %w", p, err)
	}
	if sha256.Sum256(bb) != rc.delta.Base {
		return nil, corrupt("%s: checksum mismatch", bp)
	}
	base, err := r.resolveRecipe(bp, bb, depth+1)
	if err != nil {
		return nil, err
	}
	if rc.Blocks, err = rc.delta.resolve(rc.Used, countBlocks(rc.Used, int64(rc.BlockSize)), base); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	rc.chain = append([]Hash{rc.delta.Base}, base.chain...)
	return rc, nil
}

// maxRecipeFile bounds a recipe file read without a catalog size (a delta's
// base): a full recipe of a 16 TiB disk at 4 KiB blocks.
const maxRecipeFile = 1 << 37

func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, corrupt("%s: %d bytes, more than a recipe can be", p, st.Size())
	}
	b := make([]byte, st.Size())
	_, err = io.ReadFull(f, b)
	return b, err
}

// depth is how many delta recipes the recipe's blocks went through.
func (rc *Recipe) depth() int { return len(rc.chain) }

// Recipe returns the recipe of the image called name.
func (r *Repo) Recipe(name string) (*Recipe, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.cat.image(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return r.readRecipe(r.cat.Images[i])
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
