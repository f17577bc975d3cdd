package layout

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
)

// Disk is an installed target: read to find its tables, written to fix
// them.
type Disk interface {
	io.ReaderAt
	io.WriterAt
}

// Config configures Fit and FitPath. The zero value fixes the tables for
// the target's size and leaves every partition (and filesystem) at its
// size, except one that must shrink to fit a smaller target; no logging.
type Config struct {
	// Grow enlarges the partition that ends last to fill the target, and
	// FitPath its filesystem. Without it a larger target only gets its
	// tables right, the space after the last partition left unallocated.
	Grow bool
	// Dropped lists bytes of the image that were not written because they
	// lie past a smaller target's end (Clip.Dropped). Fit refuses when any
	// lies inside a partition, naming it: the filesystem lost data. Bytes
	// outside partitions (the backup GPT Fit rewrites, free gaps) are fine.
	Dropped []image.Range
	Logger  *slog.Logger // nil: silent
}

// Result says what Fit found and changed.
type Result struct {
	// Scheme is "gpt" or "mbr"; "none" for a bare filesystem (an image of
	// a partition) that Grow lets fill a larger target; "" when the disk
	// has no table Fit knows (nothing done).
	Scheme     string
	SectorSize int64
	ImageSize  int64 // the disk the image was made of
	Size       int64 // the target
	Moved      bool  // the backup GPT was rewritten at the target's end
	Resized    *Resized
}

// Resized is the partition Fit grew or shrank.
type Resized struct {
	Index   int   // 1-based, as Linux numbers it (logical MBR partitions from 5); 0: the whole target (a bare filesystem)
	Start   int64 // bytes
	OldSize int64 // bytes
	NewSize int64 // bytes
}

// Shrunk reports whether the partition shrank: its filesystem must then
// shrink too (ResizeFS) before the disk is usable.
func (r *Resized) Shrunk() bool { return r != nil && r.NewSize < r.OldSize }

// ErrDoesNotFit is wrapped by Fit's and CheckFits's refusals: a partition,
// or data in one, lies past a smaller target's end. It wraps
// image.ErrTargetTooSmall, so callers that map that error keep doing so.
var ErrDoesNotFit = fmt.Errorf("%w", image.ErrTargetTooSmall)

// Fit rewrites the partition table of disk d, a target of size bytes onto
// which an image of a disk of imageSize bytes was installed, so that it is
// right for the target: see the package comment. It writes nothing when
// the tables already fit and nothing is to grow.
func Fit(d Disk, imageSize, size int64, cfg Config) (*Result, error) {
	res := &Result{ImageSize: imageSize, Size: size}
	if size < 4096 || imageSize <= 0 {
		return res, nil
	}
	g, err := findGPT(d, min(size, imageSize), imageSize)
	if err == nil {
		res.Scheme, res.SectorSize = "gpt", g.ss
		return res, fitGPT(d, g, res, cfg)
	}
	if !errors.Is(err, errNoGPT) {
		return nil, err
	}
	m, err := readMBR(d, size)
	if err != nil {
		return nil, err
	}
	if m != nil && m.protective && len(cfg.Dropped) == 0 {
		logf(cfg, "layout: protective MBR but no valid GPT header: table left as it is")
		return res, nil
	}
	fs := fsmap.Detect(d, min(size, imageSize))
	if m == nil || m.protective || fs != "" || !m.inside(imageSize) {
		// No table, or a bare filesystem whose boot sector looks like one
		// (FAT and NTFS end theirs with 55 AA too), or a table that did not
		// fit the image's own disk: nothing Fit may rewrite. A bare
		// filesystem (an image of a partition) can still grow with its
		// target.
		if m != nil && fs == "" {
			logf(cfg, "layout: sector 0 is not a partition table that fits the image; left as it is")
		}
		if len(cfg.Dropped) > 0 {
			// Nothing to fix: what did not fit is simply lost.
			r := cfg.Dropped[0]
			return res, fmt.Errorf("%w: the image's disk has no partition table Discus can fit, and holds data at bytes %d..%d, past the end of the %d-byte target (the disk as written is not usable)",
				ErrDoesNotFit, r.Off, r.End(), size)
		}
		if fs != "" && cfg.Grow && size > imageSize {
			res.Scheme = "none"
			res.Resized = &Resized{Index: 0, Start: 0, OldSize: imageSize, NewSize: size}
		}
		return res, nil
	}
	res.Scheme, res.SectorSize = "mbr", 512
	return res, fitMBR(d, m, res, cfg)
}

func logf(cfg Config, msg string, args ...any) {
	if cfg.Logger != nil {
		cfg.Logger.Warn(msg, args...)
	}
}

func fitGPT(d Disk, g *gpt, res *Result, cfg Config) error {
	ss := g.ss
	last := res.Size/ss - 1
	lastUsable := last - g.arraySectors() - 1
	if lastUsable < le64(g.hdr[gptFirstUsable:]) {
		return fmt.Errorf("%w: a %d-byte target has no room for a GPT", ErrDoesNotFit, res.Size)
	}
	li := g.lastEntry()
	for i := range g.count {
		e, used := g.entry(i)
		if !used {
			continue
		}
		first, end := le64(e[32:]), le64(e[40:])
		if i != li && end > lastUsable || first > lastUsable {
			return fmt.Errorf("%w: partition %d (bytes %d..%d) lies past the end of the %d-byte target",
				ErrDoesNotFit, i+1, first*ss, (end+1)*ss, res.Size)
		}
		if err := checkDropped(cfg.Dropped, i+1, first*ss, (end+1)*ss, res.Size); err != nil {
			return err
		}
	}
	if li >= 0 {
		e, _ := g.entry(li)
		first, end := le64(e[32:]), le64(e[40:])
		// The new end is aligned down to a MiB, as partitioning tools
		// align (sgdisk -v cautions about a ragged end).
		newEnd := lastUsable
		if align := (1 << 20) / ss; (lastUsable+1)/align*align-1 > first {
			newEnd = (lastUsable+1)/align*align - 1
		}
		if end > lastUsable || cfg.Grow && end < newEnd {
			putLE64(e[40:], newEnd)
			res.Resized = &Resized{Index: li + 1, Start: first * ss, OldSize: (end - first + 1) * ss, NewSize: (newEnd - first + 1) * ss}
		}
	}
	oldAlt := le64(g.hdr[gptAltLBA:])
	if oldAlt == last && le64(g.hdr[gptLastUsable:]) == lastUsable && res.Resized == nil && g.lba == 1 {
		return nil // already right
	}
	if g.lba != 1 && le64(g.hdr[gptFirstUsable:]) < 2+g.arraySectors() {
		logf(cfg, "layout: primary GPT damaged and no room to rebuild it; table left as it is")
		return nil
	}
	if oldAlt > 1 && oldAlt < last {
		if old, err := readGPT(d, res.Size, ss, oldAlt); err == nil && old.lba == oldAlt {
			// The stale backup header, in what is now free space (or past
			// a grown partition's filesystem): a second "EFI PART"
			// mid-disk only confuses tools looking for one. Only a real
			// header there is cleared, never a sector of data a bad
			// pointer names.
			if _, err := d.WriteAt(make([]byte, ss), oldAlt*ss); err != nil {
				return fmt.Errorf("clearing the old backup GPT header: %w", err)
			}
		}
	}
	if err := g.write(d, res.Size, lastUsable); err != nil {
		return err
	}
	res.Moved = true
	return fixProtective(d, res.Size, ss)
}

// checkDropped refuses when bytes dropped past a smaller target's end lie
// inside partition index [start, end).
func checkDropped(dropped []image.Range, index int, start, end, size int64) error {
	for _, r := range dropped {
		lo, hi := max(r.Off, start), min(r.End(), end)
		if hi > lo {
			return fmt.Errorf("%w: partition %d holds data at bytes %d..%d, past the end of the %d-byte target (the disk as written is not usable)",
				ErrDoesNotFit, index, lo, hi, size)
		}
	}
	return nil
}
