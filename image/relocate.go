package image

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
)

// A target that holds an incremental image's base holds most of the new disk
// already: at the same place (HashTarget finds those) or at another block
// number (a file rewritten elsewhere, as an upgrade's package manager does).
// CopyRelocated moves the second kind on the target itself, so that neither
// the network nor the sender carries them (docs/PROTOCOL.md §3.9).

// CopyStats counts what CopyRelocated did.
type CopyStats struct {
	Candidates int   // relocated blocks the target lacked
	Copied     int   // of those, copied from the target's own base block
	Bytes      int64 // bytes written by the copies
	Buffered   int   // source blocks read into memory to break a cycle of copies
}

// ReadWriterAt is a target that can be read and written (an *os.File).
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// CopyRelocated copies the relocated blocks of the incremental map bm
// (BlockMap.Relocations) that target lacks (match[i] false) from their base
// block number on target to their new place, and sets match[i] for each one
// copied. A block is copied only if the bytes read from the base block hash
// to the new block's hash, so a target that does not hold the base (empty,
// drifted, another system) gets nothing wrong, only nothing copied; the hint
// itself is never trusted. Copies are ordered so that no block is overwritten
// while another copy still needs it as its source; a cycle of copies is
// broken by reading one source into memory, at most maxBuffer bytes at a time
// (copies beyond are left for the network). Only a failed write is an error.
// Call it before anything else writes to target.
func CopyRelocated(ctx context.Context, target ReadWriterAt, bm *BlockMap, match []bool, maxBuffer int64) (CopyStats, error) {
	var st CopyStats
	if len(match) != bm.Len() {
		return st, fmt.Errorf("image: CopyRelocated: %d matches for %d blocks", len(match), bm.Len())
	}
	bs := int64(bm.BlockSize())
	type copyJob struct {
		i   int
		dst int64 // new block number
		src int64 // base block number
	}
	var jobs []copyJob
	need := map[int64]int{} // block number -> pending copies reading it
	byDst := map[int64]int{}
	for _, r := range bm.Relocations() {
		if match[r.Block] {
			continue
		}
		byDst[bm.block[r.Block]] = len(jobs)
		jobs = append(jobs, copyJob{i: r.Block, dst: bm.block[r.Block], src: r.From})
		need[r.From]++
	}
	st.Candidates = len(jobs)
	buffered := map[int64][]byte{}
	var used int64
	done := make([]bool, len(jobs))
	var ready []int
	for k := len(jobs) - 1; k >= 0; k-- {
		if need[jobs[k].dst] == 0 {
			ready = append(ready, k)
		}
	}
	buf := make([]byte, bs)
	next := 0 // lowest job that may be pending: where a cycle is broken
	release := func(src int64) {
		if need[src]--; need[src] == 0 {
			if b, ok := buffered[src]; ok {
				used -= int64(len(b))
				delete(buffered, src)
			} else if k, ok := byDst[src]; ok && !done[k] {
				ready = append(ready, k) // (a buffered block's copy is queued already)
			}
		}
	}
	for left := len(jobs); left > 0; {
		if err := ctx.Err(); err != nil {
			return st, context.Cause(ctx)
		}
		if len(ready) == 0 {
			for done[next] {
				next++
			}
			k := next
			// Every pending copy waits for a block another still reads: a cycle.
			// Keep the blocked destination's bytes in memory, or give this copy
			// up (its block comes over the network) when memory is spent.
			if used+bs <= maxBuffer {
				b := make([]byte, bs)
				if _, err := target.ReadAt(b, jobs[k].dst*bs); err == nil {
					// Its readers take it from memory now; the last frees it (release).
					buffered[jobs[k].dst] = b
					used += bs
					st.Buffered++
					ready = append(ready, k)
					continue
				}
			}
			done[k] = true
			left--
			release(jobs[k].src)
			continue
		}
		k := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		if done[k] {
			continue
		}
		j := jobs[k]
		src, ok := buffered[j.src]
		if !ok {
			if _, err := target.ReadAt(buf, j.src*bs); err == nil {
				src = buf
			}
		}
		if src != nil && sha256.Sum256(src) == bm.hashes[j.i] {
			if _, err := target.WriteAt(src, j.dst*bs); err != nil {
				return st, fmt.Errorf("image: copying block %d to block %d on the target: %w", j.src, j.dst, err)
			}
			match[j.i] = true
			st.Copied++
			st.Bytes += bs
		}
		done[k] = true
		left--
		release(j.src)
	}
	return st, nil
}
