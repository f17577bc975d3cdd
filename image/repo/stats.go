package repo

import (
	"os"
	"path/filepath"
)

// ImageStats is one image's line of a listing. Stored bytes are
// compressed bytes in packs; a block compressed in a frame with others is
// charged its share of the frame (frame bytes × block length / frame
// length), so the figures add up to the packs' size.
type ImageStats struct {
	Name        string
	Base        string
	Source      string
	TargetSize  int64   // the disk's size
	UsedBytes   int64   // logical: bytes of the used ranges (what an image of it holds at most)
	DataBytes   int64   // of those, bytes in non-zero blocks
	StoredBytes float64 // compressed bytes of its distinct blocks
	SharedBytes float64 // of those, in blocks another image references too
	// BaseNewBytes is, with a Base, the stored bytes of its blocks the
	// base does not hold: the increment's cost.
	BaseNewBytes float64
	RecipeBytes  int64
	// RecipeNeeded is set when another image's delta recipe derives from
	// this one's: removing the image keeps its recipe file.
	RecipeNeeded bool
}

// UniqueBytes is what removing the image (and GC) frees: the stored bytes
// only it references, and its recipe unless a delta needs it.
func (s ImageStats) UniqueBytes() float64 {
	u := s.StoredBytes - s.SharedBytes
	if !s.RecipeNeeded {
		u += float64(s.RecipeBytes)
	}
	return u
}

// Stats describes a whole repository.
type Stats struct {
	BlockSize    int
	Images       []ImageStats
	PackBytes    int64 // bytes of the pack files the catalog names
	RecipeBytes  int64
	CatalogBytes int64
	Blocks       int64   // unique blocks stored
	LiveBytes    float64 // stored bytes some image references
	// GarbageBytes is stored bytes no image references any more (GC frees them).
	GarbageBytes float64
}

// TotalBytes is what the repository takes on disk: packs, recipes and
// catalog.
func (s Stats) TotalBytes() int64 { return s.PackBytes + s.RecipeBytes + s.CatalogBytes }

// Stats computes the listing of `mcimage repo ls`. It reads every recipe
// but no block.
func (r *Repo) Stats() (Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{BlockSize: int(r.cat.BlockSize), Blocks: int64(len(r.index))}
	if fi, err := os.Stat(filepath.Join(r.dir, catalogName)); err == nil {
		st.CatalogBytes = fi.Size()
	}
	for _, p := range r.cat.Packs {
		st.PackBytes += int64(p.Size)
	}
	cost := func(h Hash) float64 {
		loc := r.index[h]
		fr := &r.frames[loc.pack][loc.frame]
		return float64(fr.Stored) * float64(loc.len) / float64(fr.Raw)
	}
	recipes := make([]*Recipe, len(r.cat.Images))
	refs := map[Hash]int{}    // images referencing each block
	files := map[Hash]int64{} // recipe files, with the bases deltas need
	for i, im := range r.cat.Images {
		rc, err := r.readRecipe(im)
		if err != nil {
			return st, err
		}
		recipes[i] = rc
		files[im.RecipeHash] = int64(im.RecipeSize)
		for _, h := range rc.chain {
			if _, ok := files[h]; !ok {
				if fi, err := os.Stat(filepath.Join(r.dir, "images", recipeName(h))); err == nil {
					files[h] = fi.Size()
				}
			}
		}
		for h := range distinct(rc) {
			refs[h]++
		}
	}
	needed := map[Hash]bool{}
	for _, rc := range recipes {
		for _, h := range rc.chain {
			needed[h] = true
		}
	}
	for i, rc := range recipes {
		im := r.cat.Images[i]
		s := ImageStats{Name: im.Name, Base: rc.Base, Source: rc.Source, TargetSize: rc.TargetSize,
			UsedBytes: rc.UsedBytes(), RecipeBytes: int64(im.RecipeSize), RecipeNeeded: needed[im.RecipeHash]}
		for _, h := range rc.Blocks {
			if h != zeroHash {
				s.DataBytes += int64(r.index[h].len)
			}
		}
		var base map[Hash]bool
		if j, ok := r.cat.image(rc.Base); ok && rc.Base != "" {
			base = distinct(recipes[j])
		}
		for h := range distinct(rc) {
			if _, ok := r.index[h]; !ok {
				continue // a damaged repository: Verify says so
			}
			c := cost(h)
			s.StoredBytes += c
			if refs[h] > 1 {
				s.SharedBytes += c
			}
			if base != nil && !base[h] {
				s.BaseNewBytes += c
			}
		}
		st.Images = append(st.Images, s)
	}
	for _, n := range files {
		st.RecipeBytes += n
	}
	for h := range r.index {
		if refs[h] > 0 {
			st.LiveBytes += cost(h)
		} else {
			st.GarbageBytes += cost(h)
		}
	}
	return st, nil
}

// distinct is the set of non-zero blocks a recipe references.
func distinct(rc *Recipe) map[Hash]bool {
	m := make(map[Hash]bool, len(rc.Blocks))
	for _, h := range rc.Blocks {
		if h != zeroHash {
			m[h] = true
		}
	}
	return m
}
