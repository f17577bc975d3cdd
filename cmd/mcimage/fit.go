package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/image/layout"
)

// installTarget is what extract installs through: the target itself, or a
// layout.Clip when a block device is smaller than the image's disk, after
// the image's own map says its partitions' data fit (refused otherwise,
// before anything is written).
func installTarget(target *os.File, r *image.Reader, key *image.Key) (io.WriterAt, *layout.Clip, error) {
	if r == nil {
		return target, nil, nil
	}
	st, err := target.Stat()
	if err != nil || st.Mode().IsRegular() {
		return target, nil, err
	}
	size, err := target.Seek(0, io.SeekEnd)
	if err != nil || size >= r.Header().TargetSize {
		return target, nil, err
	}
	m, err := fsmap.ScanImage(r, key)
	if err != nil {
		return nil, nil, err
	}
	if err := layout.CheckFits(m, size); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", target.Name(), err)
	}
	c := layout.NewClip(target, size, r.Header().TargetSize)
	return c, c, nil
}

// fitInstalled makes the installed target's tables fit its size and, with
// grow, its last partition and filesystem fill it (layout.FitPath).
func fitInstalled(ctx context.Context, path string, imageSize int64, grow bool, clip *layout.Clip) error {
	cfg := layout.Config{Grow: grow}
	if clip != nil {
		cfg.Dropped = clip.Dropped()
	}
	res, fr, err := layout.FitPath(ctx, path, imageSize, cfg)
	if s := layout.Summary(res, fr); s != "" {
		fmt.Fprintf(os.Stderr, "%s: %s\n", path, s)
	}
	if err == nil && grow && res.Scheme == "" {
		fmt.Fprintf(os.Stderr, "%s: no partition table: nothing to grow\n", path)
	}
	return err
}
