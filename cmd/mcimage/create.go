package main

import (
	"context"

	"flag"
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/image"
)

func cmdCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	chunk := sizeFlag(image.DefaultChunkSize)
	fs.Var(&chunk, "chunk-size", "encoded chunk size, 64K..16M")
	level := fs.Int("level", 1, "zstd compression level 1..22 (1 is fastest)")
	raw := fs.Bool("raw", false, "image every byte: do not read filesystem metadata to skip free space")
	workers := fs.Int("workers", 0, "compression goroutines (0: one per CPU)")
	pos, err := parseFlags(fs, args, 2, "SRC IMAGE")
	if err != nil {
		return err
	}
	if chunk < image.MinChunkSize || chunk > image.MaxChunkSize {
		return fmt.Errorf("%w: --chunk-size %d outside 64K..16M", errUsage, chunk)
	}
	if *level < 1 || *level > 22 {
		return fmt.Errorf("%w: --level %d outside 1..22", errUsage, *level)
	}
	srcPath, imgPath := pos[0], pos[1]
	src, err := image.OpenSource(srcPath)
	if err != nil {
		return err
	}
	defer src.Close()

	cfg := image.CreateConfig{ChunkSize: int(chunk), Level: *level, Workers: *workers}
	if !*raw {
		cfg.Used = usedRanges(src)
	}
	var out io.Writer = os.Stdout
	var f *os.File
	if imgPath == "-" {
		if isTerminal(os.Stdout) {
			return fmt.Errorf("%w: refusing to write an image to a terminal", errUsage)
		}
	} else {
		if f, err = os.OpenFile(imgPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return err
		}
		out = f
	}
	pr := newProgress("create")
	cfg.Progress = func(st image.CreateStats) { pr.update(st.Position, src.Size()) }
	h, st, err := image.Create(ctx, src, out, cfg)
	pr.done()
	if f != nil {
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(imgPath) // never leave a half image that looks like one
		}
	}
	if err != nil {
		return err
	}
	if pr.on {
		fmt.Fprintf(os.Stderr, "%s: %d chunks, %s of %s stored (%.1f:1), %s zero, %s unused, %.1fs\n",
			imgPath, h.ChunkCount, human(h.StoredBytes), human(h.TargetSize), h.Ratio(),
			human(h.ZeroBytes), human(h.UnusedBytes), st.Elapsed.Seconds())
	}
	return nil
}

// usedRanges is the hook for filesystem-aware imaging: it will ask package
// image/fsmap which bytes of src are in use, so that free space is skipped
// unread. Until that package lands every byte is imaged (nil = all), which
// is also what --raw asks for.
//
// TODO(fsmap): return fsmap's ranges for src.ReaderAt(), src.Size(); keep
// nil for streams (stdin) and when no filesystem is recognised.
func usedRanges(src *image.Source) []image.Range {
	_ = src
	return nil
}
