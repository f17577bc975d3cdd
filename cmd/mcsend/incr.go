package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/session"
)

// openIncrementalSource serves an increment on its base (--base) as an incremental
// session (docs/PROTOCOL.md §3.9): the increment's own chunks, reference chunks for
// every other block of the new disk (built from the base when first asked for and
// spooled, each block checked against the increment's block map), and the increment's
// manifest and block map as the lead. Receivers holding the base hash their target,
// copy relocated blocks locally and take about the increment; an empty or drifted
// target takes the reference chunks it lacks. The announce carries the increment's
// own header and signature, so --trust receivers check it as any signed image.
func openIncrementalSource(ctx context.Context, path string, o options, log *slog.Logger) (*source, func(), error) {
	incr, err := image.OpenFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	base, err := image.OpenFile(o.base)
	if err != nil {
		incr.Close()
		return nil, nil, fmt.Errorf("--base %s: %w", o.base, err)
	}
	spool, err := os.CreateTemp("", "mcsend-refs-*")
	if err != nil {
		incr.Close()
		base.Close()
		return nil, nil, fmt.Errorf("spool file for the reference chunks: %w", err)
	}
	os.Remove(spool.Name()) // gone when closed, however mcsend ends
	is, err := session.NewIncrementalSource(incr, base, o.level, spool)
	if err != nil {
		spool.Close()
		incr.Close()
		base.Close()
		return nil, nil, err
	}
	log.Info("incremental session", "increment", incr.Header().ID, "base", base.Header().ID,
		"literal_chunks", incr.NumChunks(), "reference_chunks", is.RefChunks())
	s := &source{path: path + " on " + o.base, img: incr, cs: is, id: incr.Header().ID}
	return s, func() {
		if n := is.RefsBuilt(); n > 0 {
			log.Info("reference chunks built", "chunks", n, "of", is.RefChunks(), "bytes", is.RefBytes())
		}
		is.Close()
		spool.Close()
		incr.Close()
		base.Close()
	}, nil
}
