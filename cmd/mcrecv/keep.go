package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

// imageKeeper stores the received chunks as an image file instead of
// installing them (mcrecv --image FILE), so the image can be sent on,
// verified or installed later. Chunks arrive in any order; image.FileWriter
// spools them beside FILE and writes the file in index order at the end.
type imageKeeper struct {
	path string
	w    *image.FileWriter
}

// newImageKeeper checks that path can become the image file before any
// sender is heard: its directory exists and it is not a directory or device.
func newImageKeeper(path string) (*imageKeeper, error) {
	if path == "-" {
		return nil, cli.Usagef("--image: give a file name (an image is kept in a file, not written to stdout)")
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("--image: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("--image: %s is not a directory", filepath.Dir(path))
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("--image: %s: not a regular file", path)
	}
	return &imageKeeper{path: path}, nil
}

// sink is called once the session is joined, with the announced header.
func (k *imageKeeper) sink(h *image.Header) (session.ChunkSink, error) {
	if k.w != nil {
		return nil, fmt.Errorf("--image: %s: a second session", k.path)
	}
	w, err := image.NewFileWriter(k.path, h)
	if err != nil {
		return nil, err
	}
	k.w = w
	return w, nil
}

// finish runs after a successful session, once the sink was closed (which
// wrote the file): the file must open and verify completely.
func (k *imageKeeper) finish() error {
	if k.w == nil {
		return fmt.Errorf("--image: %s: no image was received", k.path)
	}
	r, err := image.OpenFile(k.path)
	if err != nil {
		return fmt.Errorf("kept image: %w", err)
	}
	defer r.Close()
	if r.Header().ID != k.w.Header().ID {
		return fmt.Errorf("kept image %s: %w", k.path, image.ErrForeignImage)
	}
	if err := image.Verify(context.Background(), r, image.InstallConfig{}); err != nil {
		os.Remove(k.path) // never leave a bad file that looks like an image
		return fmt.Errorf("kept image %s: %w", k.path, err)
	}
	return nil
}

// close drops the spool if the session ended without writing the file.
func (k *imageKeeper) close() {
	if k.w != nil {
		k.w.Abort()
	}
}
