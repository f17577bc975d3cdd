package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/internal/cli"
)

// diskMap lists the partitions of the disk an image file holds, read from
// the image alone (fsmap.ScanImage).
func diskMap(r *image.Reader, key *image.Key) (*fsmap.Map, error) {
	return fsmap.ScanImage(r, key)
}

// printPartitions writes one line per partition: where it is, what it
// holds, and how much of it a filesystem-aware image keeps and skips.
func printPartitions(w io.Writer, m *fsmap.Map) {
	if m == nil || len(m.Partitions) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  part\tstart\tsize\ttype\tfs\tused\tskipped\t")
	var inParts, partsUsed int64
	for _, p := range m.Partitions {
		fsName := p.FS
		if fsName == "" {
			fsName = "-"
		}
		typ := p.Type
		if typ == "" {
			typ = "-"
		}
		fmt.Fprintf(tw, "  %s%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.Scheme, p.Index, human(p.Start), human(p.Size),
			typ, fsName, human(p.Used), human(max(p.Size-p.Used, 0)))
		inParts += p.Size
		partsUsed += p.Used
	}
	if out := m.Size - inParts; out > 0 && m.Partitions[0].Scheme != "none" {
		fmt.Fprintf(tw, "  outside\t\t%s\ttables, boot code, gaps\t-\t%s\t%s\t\n", human(out),
			human(m.UsedBytes()-partsUsed), human(max(out-(m.UsedBytes()-partsUsed), 0)))
	}
	tw.Flush()
	for _, p := range m.Partitions {
		if p.Warning != "" {
			fmt.Fprintf(w, "  warning: %s%d: %s\n", p.Scheme, p.Index, p.Warning)
		}
	}
	if g := m.GapBytes(); g > 0 {
		switch held := m.HeldGapBytes; {
		case held > 0:
			fmt.Fprintf(w, "  gaps: %s of unallocated space outside partitions, %s of it held (made with --keep-gaps)\n", human(g), human(held))
		default:
			fmt.Fprintf(w, "  gaps: %s of unallocated space outside partitions skipped as free space (--keep-gaps keeps it)\n", human(g))
		}
	}
	fmt.Fprintf(w, "  in use: %s of %s (%.1f%%); the rest is free space\n",
		human(m.UsedBytes()), human(m.Size), 100*float64(m.UsedBytes())/float64(max(m.Size, 1)))
}

// warnLogger logs fsmap's warnings (partitions kept whole) on stderr.
func warnLogger(quiet bool) *slog.Logger {
	if quiet {
		return nil
	}
	return cli.NewLogger(os.Stderr, false)
}
