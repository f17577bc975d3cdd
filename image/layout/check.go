package layout

import (
	"fmt"

	"github.com/discuscast/discus/image/fsmap"
)

// gptReserve is what a GPT needs at a disk's end: its backup header and a
// 16 KiB entry array, in 4096-byte sectors (the larger case).
const gptReserve = 6 * 4096

// CheckFits tells, before anything is written, whether the disk m (the
// image's map, fsmap.ScanImage) fits a target of size bytes: every used
// byte of every partition must lie inside the target (short of the room a
// GPT needs at the end), and a partition that must shrink needs a
// filesystem that can (not XFS, not one Discus cannot name). The error
// wraps ErrDoesNotFit and names the partition. A target as large as the
// image always fits.
func CheckFits(m *fsmap.Map, size int64) error {
	if m == nil || size >= m.Size {
		return nil
	}
	limit := size
	last := -1
	for i, p := range m.Partitions {
		if p.Scheme == "gpt" {
			limit = size - gptReserve
		}
		if p.Scheme == "none" {
			return fmt.Errorf("%w: the image is a %d-byte disk with no partition table, the target holds %d",
				ErrDoesNotFit, m.Size, size)
		}
		if last < 0 || p.Start+p.Size > m.Partitions[last].Start+m.Partitions[last].Size {
			last = i
		}
	}
	for i, p := range m.Partitions {
		end := p.Start + p.Size
		if end <= limit {
			continue
		}
		if i != last {
			return fmt.Errorf("%w: partition %d (bytes %d..%d) lies past the end of the %d-byte target",
				ErrDoesNotFit, p.Index, p.Start, end, size)
		}
		for _, r := range m.Used {
			lo, hi := max(r.Off, p.Start, limit), min(r.End(), end)
			if hi > lo {
				return fmt.Errorf("%w: partition %d (%s) has used blocks at bytes %d..%d, past what the %d-byte target can hold (%d)",
					ErrDoesNotFit, p.Index, fsName(p.FS), lo, hi, size, limit)
			}
		}
		switch p.FS {
		case "ext2", "ext3", "ext4", "ntfs", "swap":
		case "xfs":
			return fmt.Errorf("%w: partition %d must shrink to fit the %d-byte target, and XFS cannot shrink",
				ErrDoesNotFit, p.Index, size)
		default:
			return fmt.Errorf("%w: partition %d (%s) must shrink to fit the %d-byte target, and Discus cannot shrink it",
				ErrDoesNotFit, p.Index, fsName(p.FS), size)
		}
	}
	return nil
}

func fsName(fs string) string {
	if fs == "" {
		return "no filesystem known"
	}
	return fs
}
