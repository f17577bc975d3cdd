package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/repo"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

// repoPrefix marks a SOURCE served straight from a partition repository
// (package image/repo): repo:DIR/NAME.
const repoPrefix = "repo:"

// splitRepoSource splits repo:DIR/NAME; ok is false for any other SOURCE.
func splitRepoSource(path string) (dir, name string, ok bool) {
	spec, ok := strings.CutPrefix(path, repoPrefix)
	if !ok {
		return "", "", false
	}
	return filepath.Dir(spec), filepath.Base(spec), true
}

// openRepoSource serves image name of the repository in dir: its blocks
// are read (and checked against their hashes) and turned into chunks on
// the fly, as for a raw disk, reading only the image's used ranges. A
// damaged block fails the session rather than send a wrong disk.
func openRepoSource(ctx context.Context, dir, name string, o options, log *slog.Logger) (*source, func(), error) {
	chunkSize, err := cli.ParseSize(o.chunkSize)
	if err != nil {
		return nil, nil, cli.Usagef("--chunk-size: %v", err)
	}
	r, err := repo.Open(dir, log)
	if err != nil {
		return nil, nil, err
	}
	d, err := r.OpenDisk(name)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	cfg := image.CreateConfig{ChunkSize: int(chunkSize), Level: o.level, Logger: log, Used: d.UsedForCreate()}
	spool, err := os.CreateTemp("", "mcsend-spool-*")
	if err != nil {
		r.Close()
		return nil, nil, fmt.Errorf("spool file for the chunks being sent: %w", err)
	}
	os.Remove(spool.Name()) // gone when closed, however mcsend ends
	cs, err := session.NewCreatingSource(ctx, d.Source(), cfg, spool)
	if err != nil {
		spool.Close()
		r.Close()
		return nil, nil, err
	}
	s := &source{path: repoPrefix + dir + "/" + name, creating: cs, cs: cs, id: cs.Header().ID}
	return s, func() { spool.Close(); r.Close() }, nil
}
