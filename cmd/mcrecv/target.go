package main

import (
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/layout"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

// target is where mcrecv puts the image: a disk or partition written in
// place, a regular file, standard output, or a kept image file.
type target struct {
	w      io.WriterAt
	f      *os.File
	grow   bool // a regular file takes the image's size
	spill  *os.File
	stdout io.Writer
	sink   func(*image.Header) (session.ChunkSink, error)
	keep   *imageKeeper
	clip   *layout.Clip // a block device smaller than the image (fit.go)
	// resumable: a regular file that already holds bytes (an interrupted run): it is
	// not emptied, so the session can find what it holds (session/resume.go).
	resumable bool
}

func openTarget(path, keepImage string, stdout io.Writer) (*target, error) {
	t := &target{}
	if keepImage != "" {
		if path != "" {
			return nil, cli.Usagef("--image keeps the image instead of installing it: give no TARGET")
		}
		k, err := newImageKeeper(keepImage)
		if err != nil {
			return nil, err
		}
		t.keep = k
		t.sink = k.sink
		return t, nil
	}
	if path == "-" {
		// Chunks arrive in any order; standard output takes bytes in order.
		// A sparse spill file holds the disk until it is complete.
		f, err := os.CreateTemp("", "mcrecv-spill-*")
		if err != nil {
			return nil, fmt.Errorf("spill file for standard output: %w", err)
		}
		os.Remove(f.Name())
		t.w, t.f, t.spill, t.stdout, t.grow = f, f, f, stdout, true
		return t, nil
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Mode()&os.ModeDevice != 0:
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		t.w, t.f = f, f
	case err == nil && !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s: not a disk, partition or regular file", path)
	default:
		// Opened now so a target we cannot write fails before the session,
		// but emptied only once a sender is heard: waiting loses nothing.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		t.w, t.f, t.grow = f, f, true
		t.resumable = fi != nil && fi.Mode().IsRegular() && fi.Size() > 0
	}
	return t, nil
}

// prepare runs when the session is joined, before the first write.
func (t *target) prepare(h *image.Header) error {
	if t.grow && t.f != nil {
		if t.resumable && h.Complete && h.BlockMapLen > 0 {
			// Kept for the session to hash; a longer tail is cut so the file ends
			// where the disk does. Its gaps are punched (run, GapDiscard).
			if fi, err := t.f.Stat(); err == nil && fi.Size() > h.TargetSize {
				if err := t.f.Truncate(h.TargetSize); err != nil {
					return fmt.Errorf("%s: %w", t.f.Name(), err)
				}
			}
			return nil
		}
		if err := t.f.Truncate(0); err != nil {
			return fmt.Errorf("%s: %w", t.f.Name(), err)
		}
	}
	return nil
}

// finish completes what the session wrote: standard output gets the disk.
func (t *target) finish(h *image.Header) error {
	if t.keep != nil {
		return t.keep.finish()
	}
	if t.spill == nil || h == nil {
		return nil
	}
	if _, err := io.Copy(t.stdout, io.NewSectionReader(t.spill, 0, h.TargetSize)); err != nil {
		return fmt.Errorf("writing to standard output: %w", err)
	}
	return nil
}

func (t *target) close() {
	if t.f != nil {
		t.f.Close()
	}
	if t.keep != nil {
		t.keep.close()
	}
}

// describe names where the disk goes, for the summary line.
func (t *target) describe(path string) string {
	switch {
	case t.keep != nil:
		return t.keep.path + " (kept as an image)"
	case t.spill != nil:
		return "standard output"
	}
	return path
}
