package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
)

// job is a run of source data for one worker: the target span it covers,
// the non-zero ranges inside it and their bytes, back to back.
type job struct {
	seq    int
	span   Range
	ranges []Range
	raw    []byte
	buf    *[]byte // pooled backing array of raw
	last   bool
}

// cutter reads the source sequentially and cuts it into jobs, dropping
// all-zero blocks. It sizes jobs from the compression ratio the workers
// observe, so that a job fills about jobChunks chunks.
type cutter struct {
	src     *Source
	regions []Range
	p       createParams
	id      ID

	ratio atomic.Uint64 // float64 bits: recent raw/compressed ratio
	read  atomic.Int64  // bytes read
	zero  atomic.Int64  // bytes in skipped zero blocks
	size  int64         // source size, known at the end for streams

	free chan *[]byte // job buffers for reuse; a sync.Pool would drop them at each GC

	blocks *mapBuilder // hashes the used bytes for the block map; nil = none
}

func newCutter(src *Source, regions []Range, p createParams, id ID) *cutter {
	c := &cutter{src: src, regions: regions, p: p, id: id, size: src.size}
	c.ratio.Store(math.Float64bits(3))
	c.free = make(chan *[]byte, p.workers+4) // jobs in flight, plus the current and held ones
	return c
}

func (c *cutter) putBuf(b *[]byte) {
	select {
	case c.free <- b:
	default:
	}
}

func (c *cutter) getBuf() *[]byte {
	select {
	case b := <-c.free:
		return b
	default:
		b := make([]byte, c.p.maxJob+ZeroBlock) // the slack lets a read finish its 4 KiB block (run)
		return &b
	}
}

func (c *cutter) progress() (read, zero int64) { return c.read.Load(), c.zero.Load() }

// target is the raw length to aim a job at: jobChunks payload budgets
// times the observed ratio, at least one budget and at most maxJob.
func (c *cutter) target() int {
	budget := c.p.chunkSize - chunkHeaderLen(16, 0)
	r := math.Float64frombits(c.ratio.Load())
	t := int(float64(budget) * r * jobChunks)
	return max(budget, min(t, c.p.maxJob))
}

var zeroBlock [ZeroBlock]byte

// readChunk is the most the cutter reads at once.
const readChunk = 1 << 20

func (c *cutter) run(ctx context.Context, jobs chan<- *job, slots chan struct{}) error {
	seq := 0
	var held *job // a full job is held back until we know whether it is the last
	send := func(j *job) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		j.seq = seq
		seq++
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	newJob := func(off int64) *job {
		b := c.getBuf()
		return &job{span: Range{Off: off}, raw: (*b)[:0], buf: b}
	}
	cur := newJob(0)
	target := c.target()
	pos := int64(0) // everything before pos has been consumed
	full := func() bool { return len(cur.raw) >= target || len(cur.ranges) >= jobChunks*c.p.maxRanges }
	flush := func() error {
		cur.span.Len = pos - cur.span.Off
		if held != nil {
			if err := send(held); err != nil {
				return err
			}
		}
		held, cur = cur, newJob(pos)
		target = c.target()
		return nil
	}

	eof := false
	for _, rg := range c.regions {
		if eof {
			break
		}
		if c.src.r != nil && rg.Off > pos { // stream: skip unused bytes
			n, err := io.CopyN(io.Discard, c.src.r, rg.Off-pos)
			pos += n
			if err != nil {
				if errors.Is(err, io.EOF) {
					eof = true
					break
				}
				return fmt.Errorf("image: reading source: %w", err)
			}
		}
		off, end := rg.Off, rg.End()
		for off < end {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			want := min(int64(target-len(cur.raw)), end-off, readChunk)
			if want <= 0 { // cannot happen: a full job was flushed after the last read
				return errors.New("image: internal error: reading into a full job")
			}
			if a := (off + want) &^ (ZeroBlock - 1); a > off && off+want < end {
				want = a - off // end reads on block boundaries so zero blocks line up
			} else if next := off | (ZeroBlock - 1) + 1; off+want < end && off+want < next {
				// The job has less room than the rest of this block: read to its end
				// anyway (job buffers keep ZeroBlock of slack). A block split between two
				// reads was judged zero in parts, so whether a zero run inside a block
				// was dropped depended on where jobs ended (the compression ratio): an
				// increment's chunks then missed bytes of the literal blocks its map
				// names, and receivers refused them (bench/results/incr-2026-12-02-failure.md).
				want = min(next, end) - off
			}
			piece := cur.raw[len(cur.raw) : len(cur.raw)+int(want)]
			n, err := c.readAt(piece, off)
			c.read.Add(int64(n))
			c.scan(cur, piece[:n], off)
			off += int64(n)
			pos = off
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return fmt.Errorf("image: reading source at offset %d: %w", off, err)
			}
			if full() {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if c.src.r != nil && !eof { // stream: the rest is unused, but its length counts
		n, err := io.Copy(io.Discard, c.src.r)
		pos += n
		if err != nil {
			return fmt.Errorf("image: reading source: %w", err)
		}
	}
	if c.src.size == SizeUnknown {
		c.size = pos
	}
	// The last chunk owns the tail of the target up to its size.
	if len(cur.ranges) == 0 && held != nil {
		c.putBuf(cur.buf)
		cur = held
	} else if held != nil {
		if err := send(held); err != nil {
			return err
		}
	}
	cur.span.Len = c.size - cur.span.Off
	cur.last = true
	return send(cur)
}

// readAt reads len(p) bytes at off, or up to EOF (then err is io.EOF).
func (c *cutter) readAt(p []byte, off int64) (int, error) {
	var n int
	var err error
	if c.src.ra != nil {
		n, err = c.src.ra.ReadAt(p, off)
	} else {
		n, err = io.ReadFull(c.src.r, p)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
	}
	if err == io.EOF && c.src.size != SizeUnknown && off+int64(n) < c.src.size {
		return n, fmt.Errorf("source ended at %d, expected %d bytes: %w", off+int64(n), c.src.size, io.ErrUnexpectedEOF)
	}
	if err == nil && n < len(p) {
		err = io.ErrNoProgress
	}
	return n, err
}

// scan appends piece (source bytes at off, already in place at the end of
// j.raw's storage) to j without its all-zero blocks, moving later non-zero
// blocks down over dropped ones.
func (c *cutter) scan(j *job, piece []byte, off int64) {
	dst := len(j.raw)
	var zero int64
	for i := 0; i < len(piece); {
		bend := min(int((off+int64(i))/ZeroBlock+1)*ZeroBlock-int(off), len(piece))
		blk := piece[i:bend]
		if bytes.Equal(blk, zeroBlock[:len(blk)]) {
			zero += int64(len(blk))
		} else {
			at := off + int64(i)
			if n := len(j.ranges); n > 0 && j.ranges[n-1].End() == at {
				j.ranges[n-1].Len += int64(len(blk))
			} else {
				j.ranges = append(j.ranges, Range{Off: at, Len: int64(len(blk))})
			}
			if c.blocks != nil {
				c.blocks.add(at, blk)
			}
			if dst != len(j.raw)+i {
				copy(j.raw[dst:dst+len(blk)], blk)
			}
			dst += len(blk)
		}
		i = bend
	}
	// j.raw's backing array holds piece; extend the slice over what we kept.
	j.raw = j.raw[:dst]
	c.zero.Add(zero)
}
