package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Remove takes the image called name out of the catalog. Its blocks stay
// until GC (other images may share them).
func (r *Repo) Remove(name string) error {
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(); err != nil {
		return err
	}
	i, ok := r.cat.image(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	c := r.cat.clone()
	c.Images = append(c.Images[:i], c.Images[i+1:]...)
	_, err = r.commit(c)
	return err
}

// smallPack is the size below which GC merges packs.
const smallPack = 4 << 20

// GCStats says what GC did.
type GCStats struct {
	PacksKept, PacksRemoved, PacksRewritten int
	PacksMerged                             int // small packs merged into one
	BlocksDropped                           int64
	FreedBytes                              int64 // file bytes removed minus bytes written
	StrayFiles                              int   // files no catalog named (interrupted adds)
}

// GC frees what no image references: packs with no live block are
// deleted, packs with some are rewritten with only their live blocks (at
// zstd level, 0 meaning 3), packs under 4 MiB are merged, and files the catalog does not name (left by
// interrupted adds) are removed. Like Add it commits a new catalog before
// deleting anything, so an interrupted GC loses nothing.
func (r *Repo) GC(ctx context.Context, level int) (GCStats, error) {
	var st GCStats
	unlock, err := r.lock()
	if err != nil {
		return st, err
	}
	defer unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(); err != nil {
		return st, err
	}
	if level == 0 {
		level = 3
	}
	live := map[Hash]bool{}
	for _, im := range r.cat.Images {
		rc, err := r.readRecipe(im)
		if err != nil {
			return st, err
		}
		for h := range distinct(rc) {
			live[h] = true
		}
	}
	c := r.cat.clone()
	c.Packs = nil
	pw := &packWriter{dir: r.dir, cat: c, nextID: c.NextPack}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return st, err
	}
	defer enc.Close()
	var drop []string
	written := map[Hash]bool{}
	cur := &pendingFrame{}
	flush := func() error {
		if len(cur.blocks) == 0 {
			return nil
		}
		cur.out, cur.codec = enc.EncodeAll(cur.raw, nil), codecZstd
		if len(cur.out) >= len(cur.raw) {
			cur.out, cur.codec = cur.raw, codecNone
		}
		err := pw.add(cur)
		cur = &pendingFrame{}
		return err
	}
	fail := func(err error) (GCStats, error) { pw.abort(); return st, err }
	small := 0
	for _, ref := range r.cat.Packs {
		if ref.Size < smallPack {
			small++
		}
	}
	for pi, ref := range r.cat.Packs {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		var nLive, nAll int
		for _, fr := range r.frames[pi] {
			for _, h := range fr.Blocks {
				nAll++
				if live[h] && !written[h] {
					nLive++
				}
			}
		}
		path := filepath.Join(r.dir, "packs", packName(ref.ID))
		// Small packs (one per add of a localized copy) are merged, so
		// that a repository of many copies does not hold a file, and an
		// open descriptor, per copy.
		merge := ref.Size < smallPack && small >= 2
		if nLive == nAll && !merge {
			c.Packs = append(c.Packs, ref)
			for _, fr := range r.frames[pi] {
				for _, h := range fr.Blocks {
					written[h] = true
				}
			}
			st.PacksKept++
			continue
		}
		drop = append(drop, path)
		st.BlocksDropped += int64(nAll - nLive)
		if nLive == 0 {
			st.PacksRemoved++
			continue
		}
		if merge && nLive == nAll {
			st.PacksMerged++
		} else {
			st.PacksRewritten++
		}
		for _, fr := range r.frames[pi] {
			for j, h := range fr.Blocks {
				n := fr.Lens[j]
				if live[h] && !written[h] {
					b := make([]byte, n)
					if err := r.readBlock(h, b); err != nil {
						return fail(err)
					}
					if len(cur.raw)+int(n) > int(c.FrameSize) {
						if err := flush(); err != nil {
							return fail(err)
						}
					}
					cur.raw = append(cur.raw, b...)
					cur.blocks = append(cur.blocks, h)
					cur.lens = append(cur.lens, n)
					written[h] = true
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	if err := pw.finish(); err != nil {
		return fail(err)
	}
	if crashAt == "gc" {
		return st, errCrash // as if the process died before the commit
	}
	var before int64
	for _, p := range r.cat.Packs {
		before += int64(p.Size)
	}
	c.Packs = append(c.Packs, pw.refs...)
	c.NextPack = pw.nextID
	if len(drop) > 0 || len(pw.refs) > 0 { // else nothing changed: no commit
		committed, err := r.commit(c)
		if !committed {
			return fail(err)
		}
		if err != nil {
			return st, err
		}
	}
	var after int64
	for _, p := range r.cat.Packs {
		after += int64(p.Size)
	}
	for _, p := range drop {
		os.Remove(p)
	}
	st.FreedBytes = before - after
	// Stray files: temporary files and packs or recipes no catalog names.
	keep := map[string]bool{}
	for _, p := range r.cat.Packs {
		keep[filepath.Join("packs", packName(p.ID))] = true
	}
	for _, im := range r.cat.Images {
		keep[filepath.Join("images", recipeName(im.RecipeHash))] = true
		rc, err := r.readRecipe(im)
		if err != nil {
			return st, err
		}
		for _, h := range rc.chain { // base recipes a delta needs
			keep[filepath.Join("images", recipeName(h))] = true
		}
	}
	for _, sub := range []string{"packs", "images", "."} {
		ents, err := os.ReadDir(filepath.Join(r.dir, sub))
		if err != nil {
			return st, err
		}
		for _, e := range ents {
			rel := filepath.Join(sub, e.Name())
			stray := strings.HasPrefix(e.Name(), ".tmp-") ||
				sub != "." && !keep[rel] && (strings.HasSuffix(e.Name(), ".pack") || strings.HasSuffix(e.Name(), ".rcp"))
			if !stray || e.IsDir() {
				continue
			}
			if fi, err := e.Info(); err == nil {
				st.FreedBytes += fi.Size()
			}
			if err := os.Remove(filepath.Join(r.dir, rel)); err == nil {
				st.StrayFiles++
			}
		}
	}
	return st, nil
}

// VerifyStats says what Verify read.
type VerifyStats struct {
	Images, Packs int
	Blocks        int64
	Bytes         int64 // uncompressed bytes checked
}

// Verify reads every block of every pack and checks it against its hash,
// and checks that every block every recipe references is stored. It
// returns the first problem found (wrapping image.ErrCorrupt).
func (r *Repo) Verify(ctx context.Context) (VerifyStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var st VerifyStats
	for _, im := range r.cat.Images {
		rc, err := r.readRecipe(im)
		if err != nil {
			return st, err
		}
		for h := range distinct(rc) {
			if _, ok := r.index[h]; !ok {
				return st, corrupt("image %q: block %x is in no pack", im.Name, h[:8])
			}
		}
		st.Images++
	}
	for pi, frames := range r.frames {
		for fi, fr := range frames {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			for j, h := range fr.Blocks {
				b := make([]byte, fr.Lens[j])
				if loc := r.index[h]; loc.pack != uint32(pi) || loc.frame != uint32(fi) {
					continue // a copy of a block stored earlier; the first one is read
				}
				if err := r.readBlock(h, b); err != nil {
					return st, err
				}
				st.Blocks++
				st.Bytes += int64(len(b))
			}
		}
		st.Packs++
	}
	return st, nil
}
