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
	tf := addTrustFlags(fs)
	baseFile := fs.String("base", "", "IMAGE is an increment: check it with its base image `BASE.dsc`")
	pos, err := parseFlags(fs, args, 1, "IMAGE")
	if err != nil {
		return err
	}
	if err := tf.load(); err != nil {
		return err
	}
	if *baseFile != "" {
		return verifyIncremental(ctx, pos[0], *baseFile, tf)
	}
	cfg := image.InstallConfig{Workers: *workers, Decrypt: tf.key}
	var h *image.Header
	var sig *image.Signature
	if pos[0] == "-" {
		// A stream's signature and manifest come at its end; verify
		// writes nothing, so checking them last is as good as first.
		if h, sig, err = image.VerifyStreamSigned(ctx, os.Stdin, cfg); err == nil && tf.keys != nil {
			err = tf.keys.Check(h, sig)
		}
	} else {
		var r *image.Reader
		if r, err = image.OpenFile(pos[0]); err != nil {
			return err
		}
		defer r.Close()
		h, sig = r.Header(), r.Signature()
		if b := h.DeltaBase; !b.IsZero() {
			return fmt.Errorf("%w: %s is an increment against image %s: give its base with --base BASE.dsc", errUsage, pos[0], b)
		}
		if err = tf.checkFile(ctx, r); err == nil {
			err = image.Verify(ctx, r, cfg)
		}
	}
	if err != nil {
		return err
	}
	what := "structure, manifest and data checked"
	if h.Encrypted && tf.key == nil {
		what = "structure and manifest checked; payloads not decrypted (encrypted, no --decrypt key)"
	}
	trust := signedBy(sig)
	if tf.keys != nil {
		trust += " (trusted)"
	}
	fmt.Printf("%s: OK, %d chunks, %s; %s; %s\n", pos[0], h.ChunkCount, human(h.TargetSize), trust, what)
	return nil
}
