package main

import (
	"errors"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
)

// imageKeeper stores the received chunks as an image file instead of
// installing them.
type imageKeeper struct {
	path string
}

func newImageKeeper(path string) (*imageKeeper, error) {
	return nil, usagef("--image: keeping the received image is not implemented yet")
}

func (k *imageKeeper) sink(h *image.Header) (mcast.ChunkSink, error) {
	return nil, errors.New("not implemented")
}

func (k *imageKeeper) finish() error { return nil }
func (k *imageKeeper) close()        {}
