package fsmap

import (
	"log/slog"

	"github.com/discuscast/discus/image"
)

// Options tunes ScanOptions. The zero value skips the gaps outside
// partitions and logs nothing.
type Options struct {
	// KeepGaps keeps every byte outside partitions, as images made before
	// gaps were skipped did: for a disk whose unallocated space holds
	// something a tool outside any partition table needs.
	KeepGaps bool
	Logger   *slog.Logger // nil: silent
}

// splitGaps divides outside (the sorted, merged bytes no partition covers)
// into what an image keeps and the gaps it skips. Kept are the bytes before
// the first partition (boot code, the post-MBR gap where boot loaders live,
// the primary GPT) and the tables wherever they are (backup GPT, EBRs);
// the rest is unallocated space, which no partition table lets anything
// own, hence free. A disk with no table (a bare filesystem or an unknown
// disk, Scheme "none") or no partition inside it keeps everything.
func splitGaps(outside []image.Range, parts []Partition, tables []image.Range, keepAll bool) (kept, gaps []image.Range) {
	first := int64(-1)
	for _, p := range parts {
		if p.Scheme == "none" || p.Size <= 0 || p.Warning == "partition lies outside the disk" {
			continue
		}
		if first < 0 || p.Start < first {
			first = p.Start
		}
	}
	if keepAll || first < 0 || len(parts) == 0 || parts[0].Scheme == "none" {
		return outside, nil
	}
	keep := normalize(append([]image.Range{{Off: 0, Len: first}}, tables...))
	for _, o := range outside {
		in := clip(normalize(append([]image.Range(nil), keep...)), o)
		kept = append(kept, in...)
		gaps = append(gaps, complementIn(in, o)...)
	}
	return kept, normalize(gaps)
}

// complementIn returns the parts of w not in the sorted, merged rs (which
// lie inside w).
func complementIn(rs []image.Range, w image.Range) []image.Range {
	var out []image.Range
	pos := w.Off
	for _, r := range rs {
		if r.Off > pos {
			out = append(out, image.Range{Off: pos, Len: r.Off - pos})
		}
		pos = max(pos, r.End())
	}
	if pos < w.End() {
		out = append(out, image.Range{Off: pos, Len: w.End() - pos})
	}
	return out
}

// GapBytes is the number of bytes the map skips as gaps.
func (m *Map) GapBytes() int64 { return sumLen(m.Gaps) }

// without returns the parts of the sorted, merged rs not in the sorted,
// merged drop.
func without(rs, drop []image.Range) []image.Range {
	var out []image.Range
	for _, r := range rs {
		in := clip(append([]image.Range(nil), drop...), r)
		out = append(out, complementIn(in, r)...)
	}
	return out
}
