package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

// openIncrementalSource serves the new image an increment and its base
// (--base) rebuild. Like repo:DIR/NAME it builds the full new image into a
// spool file first (every block rebuilt from the increment or the base and
// checked against the increment's block map, then compressed), and serves
// that: its block map and manifest go before the chunks, so a receiver
// holding the base hashes its target and resumes, taking only the chunks
// that hold blocks it lacks. Serving the increment's own chunks and letting
// receivers copy the rest locally is the next step (docs/PROTOCOL.md §3.9).
func openIncrementalSource(ctx context.Context, path string, o options, log *slog.Logger) (*source, func(), error) {
	chunkSize, err := cli.ParseSize(o.chunkSize)
	if err != nil {
		return nil, nil, cli.Usagef("--chunk-size: %v", err)
	}
	incr, err := image.OpenFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	defer incr.Close()
	base, err := image.OpenFile(o.base)
	if err != nil {
		return nil, nil, fmt.Errorf("--base %s: %w", o.base, err)
	}
	defer base.Close()
	disk, err := image.NewIncrementalDisk(incr, base)
	if err != nil {
		return nil, nil, err
	}
	defer disk.Close()
	spool, err := os.CreateTemp("", "mcsend-incr-*.dsc")
	if err != nil {
		return nil, nil, fmt.Errorf("spool file for the image being sent: %w", err)
	}
	os.Remove(spool.Name()) // gone when closed, however mcsend ends
	fail := func(err error) (*source, func(), error) { spool.Close(); return nil, nil, err }
	h := incr.Header()
	cfg := image.CreateConfig{ChunkSize: int(chunkSize), Level: o.level, Logger: log, Used: disk.Used(),
		BlockSize: h.BlockSize, Source: h.Source}
	src := disk.Source(h.Source)
	src.SetSectorSize(h.SectorSize)
	if _, _, err := image.Create(ctx, src, spool, cfg); err != nil {
		return fail(err)
	}
	st, err := spool.Stat()
	if err != nil {
		return fail(err)
	}
	img, err := image.Open(spool, st.Size())
	if err != nil {
		return fail(err)
	}
	is, err := session.NewImageSource(img)
	if err != nil {
		return fail(err)
	}
	s := &source{path: path + " on " + o.base, img: img, cs: is, id: img.Header().ID}
	return s, func() { spool.Close() }, nil
}
