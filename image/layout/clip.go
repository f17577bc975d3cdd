package layout

import (
	"fmt"
	"os"
	"sync"

	"github.com/discuscast/discus/image"
)

// Clip lets an image be installed onto a target smaller than the disk it
// was made of: it tells the installer it holds the image's size (Size),
// writes what falls inside the target and drops the rest, remembering
// every non-zero byte dropped (Dropped) so that Fit can tell whether only
// the backup GPT and free gaps were lost (and fix the tables) or data of
// a partition was (and refuse). Zeros past the end are dropped silently:
// a gap's zeros on a disk that ends before them are nothing lost.
//
// The installer cannot discard gaps through a Clip (BLKZEROOUT, holes):
// --gaps discard writes zeros instead. Use a Clip only when the target is
// smaller than the image, and only when a failure after writing is
// acceptable (mcrecv --grow) or CheckFits said yes beforehand.
type Clip struct {
	f         *os.File
	size      int64
	imageSize int64

	mu      sync.Mutex
	dropped []image.Range
}

// NewClip wraps target f of size bytes for an image of imageSize bytes.
func NewClip(f *os.File, size, imageSize int64) *Clip {
	return &Clip{f: f, size: size, imageSize: imageSize}
}

// Size is the size the installer sees: the image's.
func (c *Clip) Size() int64 { return max(c.size, c.imageSize) }

// Name names the target in errors.
func (c *Clip) Name() string { return c.f.Name() }

// Sync flushes the target.
func (c *Clip) Sync() error { return c.f.Sync() }

// ReadAt reads the target.
func (c *Clip) ReadAt(p []byte, off int64) (int, error) { return c.f.ReadAt(p, off) }

// WriteAt writes the part of p inside the target and drops the rest.
func (c *Clip) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("layout: write at negative offset %d", off)
	}
	in := max(min(int64(len(p)), c.size-off), 0)
	if in > 0 {
		if n, err := c.f.WriteAt(p[:in], off); err != nil {
			return n, err
		}
	}
	if rest := p[in:]; len(rest) > 0 && !allZero(rest) {
		c.mu.Lock()
		c.dropped = append(c.dropped, image.Range{Off: off + in, Len: int64(len(rest))})
		c.mu.Unlock()
	}
	return len(p), nil
}

// Dropped lists the non-zero bytes written past the target's end, for
// Config.Dropped.
func (c *Clip) Dropped() []image.Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]image.Range(nil), c.dropped...)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
