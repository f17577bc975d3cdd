package fsmap

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/discuscast/discus/image"
)

// Partition describes one partition (or the bare filesystem) of a scanned
// disk and how much of it the map keeps.
type Partition struct {
	Index   int    // 1-based number as Linux names it (sda1...); logical MBR partitions start at 5
	Scheme  string // "gpt", "mbr", or "none" for a bare filesystem or an unknown disk
	Start   int64  // byte offset on the disk
	Size    int64  // bytes
	Type    string // partition type name, or GUID / "0xNN" when unknown
	FS      string // filesystem found: "ext4", "vfat", "ntfs", "swap", "xfs"...; "" if none
	Used    int64  // bytes of the partition the map keeps
	Warning string // set when the partition is kept whole because its metadata could not be trusted
}

// Map is the result of Scan: the byte ranges of a disk worth copying.
type Map struct {
	Size       int64         // disk size in bytes
	Used       []image.Range // sorted, merged, absolute, inside [0, Size)
	Partitions []Partition
	// Gaps lists the unallocated space outside every partition that Used
	// leaves out (free space: between partitions and after the last one,
	// tables excepted); empty with Options.KeepGaps or when the disk has
	// no partition table. Sorted and merged.
	Gaps []image.Range
	// HeldGapBytes is, from ScanImage only, how many bytes of Gaps the
	// image holds anyway (made with KeepGaps): 0 when they were skipped.
	HeldGapBytes int64
}

// ErrBadSize is returned by Scan for a negative disk size.
var ErrBadSize = errors.New("fsmap: negative disk size")

// UsedBytes is the number of bytes the map keeps.
func (m *Map) UsedBytes() int64 {
	var n int64
	for _, r := range m.Used {
		n += r.Len
	}
	return n
}

// Scan reads the partition table and filesystem metadata of the disk r of
// size bytes and returns the ranges in use, skipping the unallocated space
// outside partitions (ScanOptions with the zero Options). Everything it
// does not understand is kept: the bytes before the first partition (boot
// code, the post-MBR gap), the partition tables (both GPTs, every EBR),
// partitions of unknown type and filesystems whose metadata looks damaged
// (those get a Warning and are logged). An error is returned only when
// reading r fails while looking at the partition table; logger may be nil.
func Scan(r io.ReaderAt, size int64, logger *slog.Logger) (*Map, error) {
	return ScanOptions(r, size, Options{Logger: logger})
}

// ScanOptions is Scan with options.
func ScanOptions(r io.ReaderAt, size int64, opt Options) (*Map, error) {
	if size < 0 {
		return nil, ErrBadSize
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Map{Size: size}
	if size == 0 {
		return m, nil
	}
	parts, tables, err := findPartitions(r, size, logger)
	if err != nil {
		return nil, err
	}
	var used []image.Range
	covered := make([]image.Range, 0, len(parts))
	for i := range parts {
		p := &parts[i]
		if p.Start < 0 || p.Start >= size || p.Size <= 0 {
			p.Warning = "partition lies outside the disk"
			logger.Warn("fsmap: partition outside disk", "index", p.Index, "start", p.Start, "size", p.Size)
			continue
		}
		if p.Start+p.Size > size || p.Start+p.Size < p.Start {
			p.Size = size - p.Start
			p.Warning = "partition runs past the disk's end; clipped"
			logger.Warn("fsmap: partition clipped to disk", "index", p.Index)
		}
		pr := image.Range{Off: p.Start, Len: p.Size}
		covered = append(covered, pr)
		rel := scanPartition(r, p, logger)
		abs := make([]image.Range, 0, len(rel))
		for _, x := range rel {
			abs = append(abs, image.Range{Off: x.Off + p.Start, Len: x.Len})
		}
		abs = clip(normalize(abs), pr)
		p.Used = sumLen(abs)
		used = append(used, abs...)
	}
	if len(parts) > 0 && parts[0].Scheme != "none" {
		// The table's own sector, even if a hostile entry claims it.
		used = append(used, image.Range{Off: 0, Len: min(size, mbrSectorSize)})
	}
	if len(parts) > 0 && parts[0].Scheme == "mbr" {
		used = append(used, bareOverlay(r, size, logger)...)
	}
	// Outside partitions: boot code, tables, EBRs and the backup GPT are
	// kept; the rest is free space unless the caller keeps the gaps.
	outside := complement(normalize(covered), size)
	kept, gaps := splitGaps(outside, parts, tables, opt.KeepGaps)
	used = append(used, kept...)
	m.Used = normalize(used)
	m.Gaps = without(gaps, m.Used) // a bare filesystem's overlay may keep some
	m.Partitions = parts
	return m, nil
}

// findPartitions decides how the disk is laid out: GPT, MBR, a bare
// filesystem, or unknown (one "none" partition with no filesystem, kept
// whole).
// tables lists where the partition tables themselves lie (nil for none).
func findPartitions(r io.ReaderAt, size int64, logger *slog.Logger) ([]Partition, []image.Range, error) {
	parts, tables, ok, err := gptScan(r, size, logger)
	if err != nil || ok {
		return parts, tables, err
	}
	parts, tables, ok, err = mbrScan(r, size, logger)
	if err != nil || ok {
		return parts, tables, err
	}
	return []Partition{{Index: 1, Scheme: "none", Start: 0, Size: size}}, nil, nil
}

// bareOverlay guards against a bare filesystem whose boot code happens to
// look like an MBR: if a filesystem also recognises the whole disk, its map
// is added to the MBR's, so either reading being right keeps every byte.
func bareOverlay(r io.ReaderAt, size int64, logger *slog.Logger) []image.Range {
	sec := io.NewSectionReader(r, 0, size)
	for _, fr := range readers {
		if safeProbe(fr, sec, size) {
			p := Partition{Scheme: "none", Size: size}
			logger.Warn("fsmap: disk has an MBR and also looks like a bare filesystem; keeping both maps", "fs", fr.name)
			return scanPartition(r, &p, logger)
		}
	}
	return nil
}

// scanPartition finds the filesystem of one partition and returns its used
// ranges relative to the partition's start. Several readers recognising the
// same bytes (a stale signature left by an older filesystem) is ambiguous:
// the union of their maps is kept, which is safe if any of them is right.
func scanPartition(r io.ReaderAt, p *Partition, logger *slog.Logger) []image.Range {
	all := []image.Range{{Off: 0, Len: p.Size}}
	sec := io.NewSectionReader(r, p.Start, p.Size)
	var names []string
	var used []image.Range
	for _, fr := range readers {
		if !safeProbe(fr, sec, p.Size) {
			continue
		}
		names = append(names, fr.name)
		rs, err := safeUsed(fr, sec, p.Size)
		if err != nil {
			p.FS = strings.Join(names, "+")
			p.Warning = fmt.Sprintf("%s: %v; kept whole", fr.name, err)
			logger.Warn("fsmap: filesystem metadata unusable, keeping partition whole",
				"index", p.Index, "fs", fr.name, "err", err)
			return all
		}
		used = append(used, rs...)
	}
	p.FS = strings.Join(names, "+")
	if len(names) == 0 {
		return all
	}
	if len(names) > 1 {
		p.Warning = "several filesystem signatures (" + p.FS + "); kept the union of their maps"
		logger.Warn("fsmap: ambiguous filesystem", "index", p.Index, "fs", p.FS)
	}
	return used
}

func safeProbe(fr fsReader, r io.ReaderAt, size int64) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return fr.probe(r, size)
}

func safeUsed(fr fsReader, r io.ReaderAt, size int64) (rs []image.Range, err error) {
	defer func() {
		if v := recover(); v != nil {
			rs, err = nil, fmt.Errorf("reader panicked: %v", v)
		}
	}()
	return fr.used(r, size)
}

// normalize sorts ranges and merges overlapping or touching ones, dropping
// empty and negative ones.
func normalize(rs []image.Range) []image.Range {
	out := make([]image.Range, 0, len(rs))
	for _, r := range rs {
		if r.Len > 0 && r.Off >= 0 && r.End() > r.Off {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b image.Range) int { return cmp.Compare(a.Off, b.Off) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r.Off <= merged[n-1].End() {
			if r.End() > merged[n-1].End() {
				merged[n-1].Len = r.End() - merged[n-1].Off
			}
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// clip keeps the parts of sorted ranges rs that fall inside w.
func clip(rs []image.Range, w image.Range) []image.Range {
	out := rs[:0]
	for _, r := range rs {
		lo, hi := max(r.Off, w.Off), min(r.End(), w.End())
		if hi > lo {
			out = append(out, image.Range{Off: lo, Len: hi - lo})
		}
	}
	return out
}

// complement returns the parts of [0, size) not in the sorted, merged rs.
func complement(rs []image.Range, size int64) []image.Range {
	var out []image.Range
	var pos int64
	for _, r := range rs {
		if r.Off > pos {
			out = append(out, image.Range{Off: pos, Len: min(r.Off, size) - pos})
		}
		pos = max(pos, r.End())
		if pos >= size {
			return out
		}
	}
	if pos < size {
		out = append(out, image.Range{Off: pos, Len: size - pos})
	}
	return out
}

func sumLen(rs []image.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Len
	}
	return n
}
