package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/layout"
	"github.com/discuscast/discus/session"
)

// deviceSink installs onto a block device through a layout.Clip when the
// device turns out smaller than the image (its size comes with the
// session's header) and grow allows fitting the image to the disk, so
// that an image whose partitions' data fit is accepted and fixed
// afterwards (fit). Whether they fit is only known once the data came, so
// without grow a smaller device is refused before the first write, as
// always. nil for other targets, which install as usual.
func (t *target) deviceSink(install *image.InstallConfig, grow bool) func(*image.Header) (session.ChunkSink, error) {
	if !grow || !t.blockDevice() {
		return nil
	}
	return func(h *image.Header) (session.ChunkSink, error) {
		size, err := t.f.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, err
		}
		var w io.WriterAt = t.f
		if size < h.TargetSize {
			t.clip = layout.NewClip(t.f, size, h.TargetSize)
			w = t.clip
		}
		return image.NewInstaller(w, h, *install)
	}
}

// fit makes an installed block device's partition table fit its size and,
// with grow, its last partition and filesystem fill it (layout.FitPath).
func (t *target) fit(ctx context.Context, path string, h *image.Header, grow bool, stderr io.Writer) error {
	if !t.blockDevice() || h == nil {
		return nil
	}
	cfg := layout.Config{Grow: grow}
	if t.clip != nil {
		cfg.Dropped = t.clip.Dropped()
	}
	res, fr, err := layout.FitPath(ctx, path, h.TargetSize, cfg)
	if s := layout.Summary(res, fr); s != "" {
		fmt.Fprintf(stderr, "mcrecv: %s: %s\n", path, s)
	}
	if err == nil && grow && res.Scheme == "" {
		fmt.Fprintf(stderr, "mcrecv: %s: no partition table: nothing to grow\n", path)
	}
	return err
}

// blockDevice reports whether the target is a disk or partition written in
// place.
func (t *target) blockDevice() bool {
	if t.f == nil || t.grow || t.keep != nil || t.spill != nil {
		return false
	}
	st, err := t.f.Stat()
	return err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
}
