package image

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
)

// ApplyStats counts what ApplyIncremental did, in target bytes.
type ApplyStats struct {
	IncrementalStats
	CopiedBytes  int64 // used bytes copied from the base
	WrittenBytes int64 // bytes written to the target (0 when verifying)
}

// ApplyIncremental rebuilds the new disk an increment describes onto target
// from the increment incr and its base: every block of the new block map is
// read from the increment (a literal block) or from base (a block base's map
// has), checked against the new map's hash and written at the new block's
// used ranges. A nil target only verifies. It refuses a base other than the
// one incr names (ErrWrongBase) and returns an error wrapping ErrCorrupt for
// any block that does not hash right, so success means the target holds
// exactly NEW on NEW's used ranges (gaps are left as they are: a fresh file
// reads zeros there). Both readers' chunks are checked against their
// manifests as they are read.
func ApplyIncremental(ctx context.Context, incr, base *Reader, target io.WriterAt) (ApplyStats, error) {
	var st ApplyStats
	h, bh := incr.Header(), base.Header()
	if err := CheckBase(h, bh); err != nil {
		return st, err
	}
	nm, bm := incr.BlockMap(), base.BlockMap()
	if nm == nil || bm == nil {
		return st, corruptf("incremental image or base without a block map")
	}
	if nm.BlockSize() != bm.BlockSize() {
		return st, corruptf("increment's block size %d, base's %d", nm.BlockSize(), bm.BlockSize())
	}
	nd, err := NewDiskReader(incr)
	if err != nil {
		return st, err
	}
	defer nd.Close()
	bd, err := NewDiskReader(base)
	if err != nil {
		return st, err
	}
	defer bd.Close()
	x := newBaseIndex(bm)
	w := &coalescer{w: target}
	buf := make([]byte, 0, nm.BlockSize())
	var nrs, brs []Range
	for i := range nm.Len() {
		if i%256 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		nrs = nm.Ranges(nrs[:0], i)
		var n int64
		for _, r := range nrs {
			n += r.Len
		}
		buf = buf[:n]
		st.Blocks++
		st.UsedBytes += n
		from, rs, what := nd, nrs, "increment"
		if j := x.find(nm.hashes[i], nm.block[i]); j >= 0 {
			brs = bm.Ranges(brs[:0], j)
			from, rs, what = bd, brs, "base"
			if bm.block[j] == nm.block[i] {
				st.SamePlace++
			} else {
				st.Relocated++
			}
			st.CopiedBytes += n
		} else {
			st.LiteralBlocks++
			st.LiteralBytes += n
		}
		var got int64
		for _, r := range rs {
			if got+r.Len > n {
				return st, corruptf("block %d: the %s's block holds more bytes than the new one", nm.block[i], what)
			}
			if _, err := from.ReadAt(buf[got:got+r.Len], r.Off); err != nil {
				return st, fmt.Errorf("image: reading block %d from the %s: %w", nm.block[i], what, err)
			}
			got += r.Len
		}
		if got != n || sha256.Sum256(buf) != nm.hashes[i] {
			return st, corruptf("block %d (target offset %d) from the %s does not hash to the new block map's hash", nm.block[i], nm.block[i]*int64(nm.BlockSize()), what)
		}
		if target == nil {
			continue
		}
		got = 0
		for _, r := range nrs {
			if err := w.write(buf[got:got+r.Len], r.Off); err != nil {
				return st, err
			}
			got += r.Len
		}
	}
	if target != nil {
		if err := w.flush(); err != nil {
			return st, err
		}
		st.WrittenBytes = w.written
	}
	return st, nil
}

// VerifyIncremental checks that incr and base rebuild a disk whose every
// block hashes right (ApplyIncremental without a target).
func VerifyIncremental(ctx context.Context, incr, base *Reader) (ApplyStats, error) {
	return ApplyIncremental(ctx, incr, base, nil)
}

// coalescer joins contiguous writes into writes of up to 1 MiB.
type coalescer struct {
	w       io.WriterAt
	buf     []byte
	at      int64
	written int64
}

func (c *coalescer) write(p []byte, off int64) error {
	if len(c.buf) > 0 && (c.at+int64(len(c.buf)) != off || len(c.buf)+len(p) > 1<<20) {
		if err := c.flush(); err != nil {
			return err
		}
	}
	if len(c.buf) == 0 {
		c.at = off
	}
	c.buf = append(c.buf, p...)
	return nil
}

func (c *coalescer) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	if _, err := c.w.WriteAt(c.buf, c.at); err != nil {
		return fmt.Errorf("image: writing target at %d: %w", c.at, err)
	}
	c.written += int64(len(c.buf))
	c.buf = c.buf[:0]
	return nil
}
