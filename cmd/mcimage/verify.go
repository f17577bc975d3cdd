package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/discuscast/discus/image"
)

func cmdVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	workers := fs.Int("workers", 0, "decompression goroutines (0: one per CPU)")
	pos, err := parseFlags(fs, args, 1, "IMAGE")
	if err != nil {
		return err
	}
	cfg := image.InstallConfig{Workers: *workers}
	var h *image.Header
	if pos[0] == "-" {
		h, err = installStream(ctx, nil, cfg, newProgress("verify"))
	} else {
		var r *image.Reader
		if r, err = image.OpenFile(pos[0]); err != nil {
			return err
		}
		defer r.Close()
		h = r.Header()
		err = image.Verify(ctx, r, cfg)
	}
	if err != nil {
		return err
	}
	if isTerminal(os.Stdout) {
		fmt.Printf("%s: OK, %d chunks, %s\n", pos[0], h.ChunkCount, human(h.TargetSize))
	}
	return nil
}
