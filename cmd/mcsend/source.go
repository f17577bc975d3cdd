package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/session"
)

// source is what mcsend serves: an image file as it is, or a raw disk,
// partition, file or stream turned into chunks while it is sent.
type source struct {
	path     string
	id       image.ID
	cs       mcast.ChunkSource
	img      *image.Reader
	creating *session.CreatingSource
	fsm      *fsmap.Map
}

func openSource(ctx context.Context, path string, o options, log *slog.Logger) (*source, func(), error) {
	if o.base != "" {
		return openIncrementalSource(ctx, path, o, log)
	}
	if dir, name, ok := splitRepoSource(path); ok {
		return openRepoSource(ctx, dir, name, o, log)
	}
	s := &source{path: path}
	if path != "-" {
		if isImage, err := image.IsImageFile(path); err != nil {
			return nil, nil, err
		} else if isImage {
			r, err := image.OpenFile(path)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			is, err := session.NewImageSource(r)
			if err != nil {
				r.Close()
				return nil, nil, err
			}
			s.img, s.cs, s.id = r, is, r.Header().ID
			return s, func() { r.Close() }, nil
		}
	}
	chunkSize, err := cli.ParseSize(o.chunkSize)
	if err != nil {
		return nil, nil, cli.Usagef("--chunk-size: %v", err)
	}
	src, m, err := fsmap.OpenSourceWith(path, fsmap.SourceOptions{Raw: o.raw, KeepGaps: o.keepGaps, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if src.Size() == 0 && path != "-" {
		src.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, cli.ErrEmptySource)
	}
	cfg := image.CreateConfig{ChunkSize: int(chunkSize), Level: o.level, Logger: log}
	if m != nil {
		s.fsm, cfg.Used = m, m.Used
	}
	spool, err := os.CreateTemp("", "mcsend-spool-*")
	if err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("spool file for the chunks being sent: %w", err)
	}
	os.Remove(spool.Name()) // gone when closed, however mcsend ends
	cs, err := session.NewCreatingSource(ctx, src, cfg, spool)
	if err != nil {
		spool.Close()
		src.Close()
		return nil, nil, err
	}
	s.creating, s.cs, s.id = cs, cs, cs.Header().ID
	return s, func() { spool.Close(); src.Close() }, nil
}

func (s *source) header() *image.Header {
	if s.img != nil {
		return s.img.Header()
	}
	return s.creating.Header()
}

// describe names the size of what is being sent, for the progress line.
func (s *source) describe() string {
	h := s.header()
	if !h.Complete {
		return "an image still being read"
	}
	return fmt.Sprintf("%s (%s disk)", cli.HumanBytes(h.StoredBytes), cli.HumanBytes(h.TargetSize))
}
