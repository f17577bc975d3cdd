package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/internal/cli"
)

func cmdCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	chunk := cli.SizeFlag(image.DefaultChunkSize)
	fs.Var(&chunk, "chunk-size", "encoded chunk size, 64K..16M")
	level := fs.Int("level", 1, "zstd compression level 1..22 (1 is fastest)")
	raw := fs.Bool("raw", false, "image every byte: do not read filesystem metadata to skip free space")
	keepGaps := fs.Bool("keep-gaps", false, "keep the unallocated space outside partitions too (default: skipped as free space)")
	workers := fs.Int("workers", 0, "compression goroutines (0: one per CPU)")
	quiet := fs.Bool("quiet", false, "print nothing but errors (no summary)")
	signKey := fs.String("sign", "", "sign the image with this OpenSSH ed25519 private key `FILE`")
	encKey := fs.String("encrypt", "", "seal every chunk with the key in `FILE` (at least 32 secret bytes)")
	block := fs.String("block-size", "16K", "block map granularity `SIZE`, a power of two 4K..1M, or none (an encrypted image's map is keyed)")
	baseFile := fs.String("base", "", "write an incremental image against the image `BASE.dsc`: only the blocks BASE lacks")
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
	cfg := image.CreateConfig{ChunkSize: int(chunk), Level: *level, Workers: *workers}
	if cfg.BlockSize, err = blockSizeFlag(*block, *encKey != ""); err != nil {
		return err
	}
	// Keys first: a bad key file must fail before a long creation.
	if *signKey != "" {
		if cfg.Sign, err = image.LoadSigningKey(*signKey); err != nil {
			return err
		}
	}
	if *encKey != "" {
		if cfg.Encrypt, err = image.LoadKey(*encKey); err != nil {
			return err
		}
	}
	var base *image.Reader
	if *baseFile != "" {
		if srcPath == "-" || *encKey != "" {
			return fmt.Errorf("%w: --base needs a file or device source and no --encrypt", errUsage)
		}
		if base, err = image.OpenFile(*baseFile); err != nil {
			return fmt.Errorf("--base %s: %w", *baseFile, err)
		}
		defer base.Close()
		if *block == "16K" {
			cfg.BlockSize = 0 // the base's
		}
	}
	src, fsm, err := fsmap.OpenSourceWith(srcPath, fsmap.SourceOptions{Raw: *raw, KeepGaps: *keepGaps, Logger: warnLogger(*quiet)})
	// create has always worded a failed scan its own way; keep it.
	if se, ok := errors.AsType[*fsmap.ScanError](err); ok {
		return fmt.Errorf("%s: reading the partitions and filesystems of the source: %w", srcPath, se.Err)
	} else if err != nil {
		return err
	}
	defer src.Close()
	if src.Size() == 0 && srcPath != "-" {
		return fmt.Errorf("%s: %w", srcPath, cli.ErrEmptySource)
	}
	if fsm != nil {
		cfg.Used = fsm.Used
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
	var h *image.Header
	var st image.CreateStats
	var ist image.IncrementalStats
	if base != nil {
		h, st, ist, err = image.CreateIncremental(ctx, src, base, out, cfg)
	} else {
		h, st, err = image.Create(ctx, src, out, cfg)
	}
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
	if !*quiet {
		fmt.Fprintf(os.Stderr, "%s: %d chunks, %s of %s stored (%.1f:1), %s zero, %s unused, %.1fs\n",
			imgPath, h.ChunkCount, human(h.StoredBytes), human(h.TargetSize), h.Ratio(),
			human(h.ZeroBytes), human(h.UnusedBytes), st.Elapsed.Seconds())
		if base != nil {
			fmt.Fprintf(os.Stderr, "%s: increment against %s (%s): %d of %d blocks stored (%s of %s used), %d referenced at the same place, %d relocated\n",
				imgPath, *baseFile, h.DeltaBase, ist.LiteralBlocks, ist.Blocks, human(ist.LiteralBytes), human(ist.UsedBytes), ist.SamePlace, ist.Relocated)
		}
		fmt.Fprintf(os.Stderr, "%s: %s", imgPath, signedBy(st.Signature))
		if h.Encrypted {
			fmt.Fprintf(os.Stderr, ", encrypted (key ID %s)", h.KeyID)
		}
		fmt.Fprintln(os.Stderr)
		switch {
		case fsm != nil:
			fmt.Fprintln(os.Stderr, "partitions (used is imaged; skipped is free space, not read):")
			printPartitions(os.Stderr, fsm)
		case !*raw:
			fmt.Fprintln(os.Stderr, "a stream cannot be scanned for filesystems: every byte was imaged")
		}
	}
	return nil
}

// blockSizeFlag turns --block-size into CreateConfig.BlockSize: "none"
// makes no block map. An encrypted image's map is keyed with its key
// (docs/FORMAT.md "Block map"), so it reveals nothing of the plain blocks.
func blockSizeFlag(v string, encrypted bool) (int, error) {
	if v == "none" {
		return image.NoBlockMap, nil
	}
	n, err := cli.ParseSize(v)
	if err != nil || n < image.MinBlockSize || n > image.MaxBlockSize || n&(n-1) != 0 {
		return 0, fmt.Errorf("%w: --block-size %q: want a power of two 4K..1M, or none", errUsage, v)
	}
	return int(n), nil
}
