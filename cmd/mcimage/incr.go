package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/cli"
)

// openIncrement opens an incremental image and the base it names; the
// increment's trust (--trust) is checked, and the base is pinned by the
// increment's header (its ID and manifest root), so it needs no signature.
func openIncrement(ctx context.Context, incrPath, basePath string, tf *trustFlags) (incr, base *image.Reader, err error) {
	if incrPath == "-" || basePath == "-" {
		return nil, nil, fmt.Errorf("%w: --base needs image files, not a pipe", errUsage)
	}
	if incr, err = image.OpenFile(incrPath); err != nil {
		return nil, nil, err
	}
	if base, err = image.OpenFile(basePath); err != nil {
		incr.Close()
		return nil, nil, fmt.Errorf("--base %s: %w", basePath, err)
	}
	err = tf.checkFile(ctx, incr)
	if err == nil {
		err = image.CheckBase(incr.Header(), base.Header())
	}
	if err != nil {
		incr.Close()
		base.Close()
		return nil, nil, err
	}
	return incr, base, nil
}

// extractIncremental rebuilds the new disk of an increment and its base
// onto target (mcimage extract --base): every block is checked against the
// increment's block map before it counts, so success means the target holds
// exactly the new disk on its used ranges; gaps (every byte outside them) get
// mode's treatment on a target that existed (a new file reads zeros there).
func extractIncremental(ctx context.Context, incrPath, basePath, targetPath string, tf *trustFlags, grow bool, mode image.GapMode) error {
	incr, base, err := openIncrement(ctx, incrPath, basePath, tf)
	if err != nil {
		return err
	}
	defer incr.Close()
	defer base.Close()
	h := incr.Header()
	target, fresh, err := openTarget(targetPath)
	if err != nil {
		return err
	}
	defer target.Close()
	if fresh {
		err = target.Truncate(h.TargetSize) // gaps read as zeros
	} else if size, serr := target.Seek(0, io.SeekEnd); serr != nil {
		err = serr
	} else if size < h.TargetSize {
		err = fmt.Errorf("%s: %w: %d bytes, the image needs %d", targetPath, image.ErrTargetTooSmall, size, h.TargetSize)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := image.ApplyIncremental(ctx, incr, base, target)
	if err == nil && !fresh {
		if _, gerr := image.ClearGaps(target, incr.BlockMap(), h.TargetSize, mode); gerr != nil {
			err = fmt.Errorf("%s: clearing gaps: %w", targetPath, gerr)
		}
	}
	if err == nil {
		err = target.Sync()
	}
	if cerr := target.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := fitInstalled(ctx, targetPath, h.TargetSize, grow, nil); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: installed onto %s with base %s, every block verified: %s from the increment, %s from the base (%d blocks in place, %d relocated), %s written, in %s\n",
		incrPath, targetPath, basePath, human(st.LiteralBytes), human(st.CopiedBytes), st.SamePlace, st.Relocated,
		human(st.WrittenBytes), cli.Duration(time.Since(start)))
	return nil
}

// verifyIncremental checks that an increment and its base rebuild a disk
// whose every block hashes right (mcimage verify --base).
func verifyIncremental(ctx context.Context, incrPath, basePath string, tf *trustFlags) error {
	incr, base, err := openIncrement(ctx, incrPath, basePath, tf)
	if err != nil {
		return err
	}
	defer incr.Close()
	defer base.Close()
	st, err := image.VerifyIncremental(ctx, incr, base)
	if err != nil {
		return err
	}
	h := incr.Header()
	trust := signedBy(incr.Signature())
	if tf.keys != nil {
		trust += " (trusted)"
	}
	fmt.Printf("%s: OK with base %s, %d blocks (%s from the increment, %s from the base), %s disk; %s; every block checked\n",
		incrPath, basePath, st.Blocks, human(st.LiteralBytes), human(st.CopiedBytes), human(h.TargetSize), trust)
	return nil
}
