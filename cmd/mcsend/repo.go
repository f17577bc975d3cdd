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

// openRepoSource serves image name of the repository in dir. It first
// builds the image into a spool file (its blocks read, checked against
// their hashes and compressed into chunks, only its used ranges), then
// serves that file as an image: so the block map and manifest exist
// before the first chunk is sent, and a receiver whose target already
// holds the base of the image (or part of it) hashes it and takes only
// the chunks it lacks. Built on the fly instead, the map would come only
// at the end, and base holders would receive everything. The build runs
// while mcsend waits for receivers anyway; a damaged block fails it before
// anything is sent.
func openRepoSource(ctx context.Context, dir, name string, o options, log *slog.Logger) (*source, func(), error) {
	chunkSize, err := cli.ParseSize(o.chunkSize)
	if err != nil {
		return nil, nil, cli.Usagef("--chunk-size: %v", err)
	}
	r, err := repo.Open(dir, log)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	spool, err := os.CreateTemp("", "mcsend-repo-*.dsc")
	if err != nil {
		return nil, nil, fmt.Errorf("spool file for the image being sent: %w", err)
	}
	os.Remove(spool.Name()) // gone when closed, however mcsend ends
	cfg := image.CreateConfig{ChunkSize: int(chunkSize), Level: o.level, Logger: log}
	if _, _, err := r.Export(ctx, name, spool, cfg); err != nil {
		spool.Close()
		return nil, nil, err
	}
	st, err := spool.Stat()
	if err != nil {
		spool.Close()
		return nil, nil, err
	}
	img, err := image.Open(spool, st.Size())
	if err != nil {
		spool.Close()
		return nil, nil, err
	}
	is, err := session.NewImageSource(img)
	if err != nil {
		spool.Close()
		return nil, nil, err
	}
	s := &source{path: repoPrefix + dir + "/" + name, img: img, cs: is, id: img.Header().ID}
	return s, func() { spool.Close() }, nil
}
