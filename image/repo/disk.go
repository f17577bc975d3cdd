package repo

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/discuscast/discus/image"
)

// Disk is the disk an image of the repository holds, read block by block
// from the packs: an io.ReaderAt of Size bytes in which everything outside
// the used ranges reads as zeros. Every block read is checked against its
// SHA-256, so a damaged repository gives an error wrapping
// image.ErrCorrupt, never wrong bytes. Safe for concurrent use.
type Disk struct {
	r      *Repo
	name   string
	recipe *Recipe
	blocks []int64 // block numbers, parallel to recipe.Blocks
	// The last block read, checked: a filesystem's used ranges cut blocks
	// into small pieces that are read one by one. Guarded by r.mu.
	lastK   int64
	lastBuf []byte
}

// OpenDisk opens the image called name for reading.
func (r *Repo) OpenDisk(name string) (*Disk, error) {
	rc, err := r.Recipe(name)
	if err != nil {
		return nil, err
	}
	d := &Disk{r: r, name: name, recipe: rc, blocks: make([]int64, 0, len(rc.Blocks)), lastK: -1}
	usedBlocks(rc.Used, int64(rc.BlockSize), func(k int64) bool { d.blocks = append(d.blocks, k); return true })
	return d, nil
}

// Recipe is the image's recipe.
func (d *Disk) Recipe() *Recipe { return d.recipe }

// Size is the disk's size in bytes.
func (d *Disk) Size() int64 { return d.recipe.TargetSize }

// ReadAt implements io.ReaderAt.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("repo: negative offset %d", off)
	}
	if off >= d.recipe.TargetSize {
		return 0, io.EOF
	}
	n := 0
	var tail error
	if int64(len(p)) > d.recipe.TargetSize-off {
		p, tail = p[:d.recipe.TargetSize-off], io.EOF
	}
	bs := int64(d.recipe.BlockSize)
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	for n < len(p) {
		pos := off + int64(n)
		k := pos / bs
		lo, hi := k*bs, min((k+1)*bs, d.recipe.TargetSize)
		want := min(int64(len(p)-n), hi-pos)
		dst := p[n : n+int(want)]
		i := sort.Search(len(d.blocks), func(i int) bool { return d.blocks[i] >= k })
		if i == len(d.blocks) || d.blocks[i] != k || d.recipe.Blocks[i] == zeroHash {
			clear(dst)
		} else {
			if d.lastK != k {
				if d.lastBuf == nil {
					d.lastBuf = make([]byte, bs)
				}
				d.lastK = -1
				if err := d.r.readBlock(d.recipe.Blocks[i], d.lastBuf[:hi-lo]); err != nil {
					return n, err
				}
				d.lastK = k
			}
			copy(dst, d.lastBuf[pos-lo:hi-lo])
		}
		n += int(want)
	}
	return n, tail
}

// Source returns the disk as an image.Source with the recorded source
// text and sector size: give it, with the recipe's Used as
// image.CreateConfig.Used, to image.Create or session.NewCreatingSource to
// make or send an image on the fly.
func (d *Disk) Source() *image.Source {
	s := image.NewSource(d, d.recipe.TargetSize)
	s.SetSectorSize(d.recipe.SectorSize)
	desc := "repo " + d.name
	if d.recipe.Source != "" {
		desc += " (" + d.recipe.Source + ")"
	}
	s.SetDescription(desc)
	return s
}

// Used is the image's used ranges (nil for an empty image, which
// image.CreateConfig would read as "everything": use UsedForCreate).
func (d *Disk) Used() []image.Range { return d.recipe.Used }

// UsedForCreate is Used as image.CreateConfig.Used wants it: an image
// with no used bytes gives an empty, non-nil list.
func (d *Disk) UsedForCreate() []image.Range {
	if d.recipe.Used == nil {
		return []image.Range{}
	}
	return d.recipe.Used
}

// Export writes the image called name as a Discus image file to w
// (image.Create with cfg, whose Used is set to the image's used ranges).
// A block that fails its hash ends the export with an error wrapping
// image.ErrCorrupt; the caller must then discard what was written.
func (r *Repo) Export(ctx context.Context, name string, w io.Writer, cfg image.CreateConfig) (*image.Header, image.CreateStats, error) {
	d, err := r.OpenDisk(name)
	if err != nil {
		return nil, image.CreateStats{}, err
	}
	cfg.Used = d.UsedForCreate()
	return image.Create(ctx, d.Source(), w, cfg)
}
