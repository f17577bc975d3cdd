package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/cli"
)

func cmdExtract(ctx context.Context, args []string) error {
	fset := flag.NewFlagSet("extract", flag.ContinueOnError)
	gaps := fset.String("gaps", "leave", "gap bytes (zero/unused in the source): leave, zero or discard")
	workers := fset.Int("workers", 0, "decompression goroutines (0: one per CPU)")
	grow := fset.Bool("grow", false, "enlarge the last partition and its filesystem to fill a larger target")
	tf := addTrustFlags(fset)
	baseFile := fset.String("base", "", "IMAGE is an increment: rebuild it with its base image `BASE.dsc`")
	pos, err := parseFlags(fset, args, 2, "IMAGE TARGET")
	if err != nil {
		return err
	}
	if err := tf.load(); err != nil {
		return err
	}
	mode, err := image.ParseGapMode(*gaps)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *baseFile != "" {
		return extractIncremental(ctx, pos[0], *baseFile, pos[1], tf, *grow, mode)
	}
	if pos[1] == "-" {
		return fmt.Errorf("%w: TARGET must be a file or block device", errUsage)
	}
	if pos[0] == "-" && tf.keys != nil {
		return fmt.Errorf("%w: --trust needs an image file: a stream's signature and manifest come after its chunks", errUsage)
	}
	// Everything that can refuse the image (signature, manifest, key) is
	// checked before the target is opened: opening truncates a file.
	var r *image.Reader
	if pos[0] != "-" {
		if r, err = image.OpenFile(pos[0]); err != nil {
			return err
		}
		defer r.Close()
		if err := tf.checkFile(ctx, r); err != nil {
			return err
		}
		if err := r.Header().CheckKey(tf.key); err != nil {
			return err
		}
		if b := r.Header().DeltaBase; !b.IsZero() {
			return fmt.Errorf("%w: %s is an increment against image %s: give its base with --base BASE.dsc", errUsage, pos[0], b)
		}
	}
	target, fresh, err := openTarget(pos[1])
	if err != nil {
		return err
	}
	defer target.Close()
	w, clip, err := installTarget(target, r, tf.key)
	if err != nil {
		return err
	}
	// A file target is recreated empty, so leaving gaps yields zeros there.
	cfg := image.InstallConfig{Workers: *workers, Gaps: mode, Grow: fresh, Decrypt: tf.key}
	pr := newProgress("extract")
	start := time.Now()
	var h *image.Header
	if r == nil {
		h, err = installStream(ctx, w, cfg, pr)
	} else {
		h = r.Header()
		err = installFile(ctx, r, w, cfg, pr)
	}
	pr.done()
	if err != nil {
		return err
	}
	if err := target.Close(); err != nil {
		return err
	}
	if err := fitInstalled(ctx, pos[1], h.TargetSize, *grow, clip); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: installed onto %s, every chunk verified: %d chunks, %s of data on a %s disk, in %s\n",
		pos[0], pos[1], h.ChunkCount, human(h.DataBytes), human(h.TargetSize), cli.Duration(time.Since(start)))
	return nil
}

// openTarget opens a block device exclusively (so a mounted one is
// refused), or creates / truncates a regular file (fresh is then true).
func openTarget(path string) (f *os.File, fresh bool, err error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		return f, true, err
	case err != nil:
		return nil, false, err
	case st.Mode().IsRegular():
		f, err = os.OpenFile(path, os.O_RDWR|os.O_TRUNC, 0)
		return f, true, err
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		f, err = os.OpenFile(path, os.O_RDWR|os.O_EXCL, 0)
		return f, false, err
	}
	return nil, false, fmt.Errorf("%w: TARGET %s: not a regular file or block device", errUsage, path)
}

// installFile installs an opened image file. Each chunk is checked against
// the manifest as it is read (VerifyChunk), so a file changed after
// checkFile's pass is still refused chunk by chunk.
func installFile(ctx context.Context, r *image.Reader, target io.WriterAt, cfg image.InstallConfig, pr *progress) error {
	h := r.Header()
	in, err := image.NewInstaller(target, h, cfg)
	if err != nil {
		return err
	}
	var buf []byte
	for i := range r.NumChunks() {
		if _, buf, err = r.VerifyChunk(i, buf); err == nil {
			err = in.Put(ctx, buf)
		}
		if err != nil {
			var ce *image.ChunkError
			if errors.As(err, &ce) && ce.Offset < 0 {
				ce.Offset, _ = r.ChunkOffset(i)
			}
			in.Close()
			return err
		}
		pr.update(in.Stats().DataBytes, h.DataBytes)
	}
	return in.Close()
}

// installStream installs (or, with a nil target, verifies) an image file
// read from stdin.
func installStream(ctx context.Context, target io.WriterAt, cfg image.InstallConfig, pr *progress) (*image.Header, error) {
	if target == nil {
		return image.VerifyStream(ctx, os.Stdin, cfg)
	}
	var in *image.Installer
	h, err := image.ScanStream(ctx, os.Stdin, func(h *image.Header) error {
		var err error
		in, err = image.NewInstaller(target, h, cfg)
		return err
	}, func(i int, c []byte) error {
		err := in.Put(ctx, c)
		pr.update(in.Stats().ChunkBytes, -1)
		return err
	})
	if in == nil {
		return nil, err
	}
	if err == nil {
		err = in.SetHeader(h)
	}
	if cerr := in.Close(); err == nil {
		err = cerr
	}
	return h, err
}
