package image

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// HashStats counts a HashTarget run.
type HashStats struct {
	Blocks    int   // blocks hashed
	Matched   int   // of which the target holds
	ReadBytes int64 // bytes read from the target
}

// hashBatch is how many used bytes a worker reads at once: one read of a
// run of blocks (when they are dense) instead of one per block.
const hashBatch = 1 << 20

// HashTarget reads target at the used ranges of every block of m and
// reports which blocks it already holds (match[i] for block i): their used
// bytes have the SHA-256 the map gives (an encrypted image's keyed map: the
// HMAC, so m must come from WithKey; ErrMapKey otherwise). A target shorter than the image
// simply does not hold what lies beyond its end. It reads and hashes on
// workers goroutines (0: GOMAXPROCS); SHA-256 uses the CPU's SHA extensions
// where it has them (crypto/sha256), about 2 GB/s a core.
func HashTarget(ctx context.Context, target io.ReaderAt, m *BlockMap, workers int) ([]bool, HashStats, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if _, err := m.hasher(); err != nil {
		return nil, HashStats{}, err // a keyed map without its key (WithKey)
	}
	match := make([]bool, m.Len())
	// Batches: runs of consecutive blocks of about hashBatch used bytes.
	var starts []int
	var acc int64
	var rs []Range
	for i := range m.Len() {
		rs = m.Ranges(rs[:0], i)
		n := int64(0)
		for _, r := range rs {
			n += r.Len
		}
		if i == 0 || acc+n > hashBatch {
			starts = append(starts, i)
			acc = 0
		}
		acc += n
	}
	starts = append(starts, m.Len())
	var (
		next    atomic.Int64
		matched atomic.Int64
		read    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		ferr    error
	)
	for range workers {
		wg.Go(func() {
			var buf []byte
			var rs []Range
			for {
				b := int(next.Add(1) - 1)
				if b >= len(starts)-1 || ctx.Err() != nil {
					return
				}
				lo, hi := starts[b], starts[b+1]
				rs = rs[:0]
				cut := make([]int, 0, hi-lo+1) // rs[cut[k]:cut[k+1]] are block lo+k's ranges
				for i := lo; i < hi; i++ {
					cut = append(cut, len(rs))
					rs = m.Ranges(rs, i)
				}
				cut = append(cut, len(rs))
				from, to := rs[0].Off, rs[len(rs)-1].End()
				var win []byte
				dense := to-from <= 4*hashBatch
				if dense {
					// Dense: one read of the whole window, gaps included.
					if int64(cap(buf)) < to-from {
						buf = make([]byte, to-from)
					}
					win = buf[:to-from]
					n, err := target.ReadAt(win, from)
					read.Add(int64(n))
					if err != nil && !errors.Is(err, io.EOF) {
						errOnce.Do(func() { ferr = err })
						return
					}
					win = win[:n]
				}
				h, _ := m.hasher()
				var one []byte
				for k := 0; k < hi-lo; k++ {
					h.Reset()
					ok := true
					for _, r := range rs[cut[k]:cut[k+1]] {
						var p []byte
						if dense {
							if r.End()-from > int64(len(win)) {
								ok = false // beyond the target's end
								break
							}
							p = win[r.Off-from : r.End()-from]
						} else {
							if int64(cap(one)) < r.Len {
								one = make([]byte, r.Len)
							}
							p = one[:r.Len]
							n, err := target.ReadAt(p, r.Off)
							read.Add(int64(n))
							if n < len(p) {
								if err != nil && !errors.Is(err, io.EOF) {
									errOnce.Do(func() { ferr = err })
									return
								}
								ok = false
								break
							}
						}
						h.Write(p)
					}
					if !ok {
						continue
					}
					var s [32]byte
					if [32]byte(h.Sum(s[:0])) == m.hashes[lo+k] {
						match[lo+k] = true
						matched.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	st := HashStats{Blocks: m.Len(), Matched: int(matched.Load()), ReadBytes: read.Load()}
	if ferr != nil {
		return nil, st, ferr
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	return match, st, nil
}

// ChunkRanges appends to dst the used ranges inside chunk i's span: the
// chunk's ranges, as the image's chunk i lists them.
func (m *BlockMap) ChunkRanges(dst []Range, i int) []Range {
	sp := m.Span(i)
	e := sort.Search(len(m.extents), func(k int) bool { return m.extents[k].End() > sp.Off })
	for ; e < len(m.extents) && m.extents[e].Off < sp.End(); e++ {
		x := m.extents[e]
		s, t := max(x.Off, sp.Off), min(x.End(), sp.End())
		if s < t {
			dst = append(dst, Range{Off: s, Len: t - s})
		}
	}
	return dst
}

// HeldChunks reports, from HashTarget's match, which chunks the target
// holds whole: every used byte of the chunk's span lies in a matching block
// (for an increment's map: every literal block's).
// A chunk without used bytes is held (it has nothing to write).
func (m *BlockMap) HeldChunks(match []bool) []bool {
	held := make([]bool, len(m.spans))
	for i := range held {
		held[i] = true
	}
	c := 0 // chunks before c end before the current range
	var rs []Range
	for i := range m.Len() {
		if match[i] || (m.lit != nil && !m.lit.get(i)) {
			continue // an increment's chunks hold only its literal blocks (blockmap_incr.go)
		}
		rs = m.Ranges(rs[:0], i)
		for _, r := range rs {
			for c < len(m.spans) && m.spans[c] <= r.Off {
				c++
			}
			for k := c; k < len(m.spans); k++ {
				held[k] = false
				if m.spans[k] >= r.End() {
					break
				}
			}
		}
	}
	return held
}
