package mcast

import "math/bits"

// DefaultMaxChunks is ReceiverConfig.MaxChunks' zero value: 4 Mi chunks, an image of
// 4 TiB at the default 1 MiB chunk. Per chunk a receiver keeps one bit (512 KiB at
// this bound); its timers live in small maps that hold only the chunks it is asking
// for or heard asked for, so an announce cannot make it allocate more than that.
const DefaultMaxChunks = 1 << 22

// bitset is the per-chunk "delivered" state: one bit per chunk.
type bitset struct {
	w []uint64
	n int
}

func (b *bitset) len() int { return b.n }

func (b *bitset) get(i int) bool { return b.w[i>>6]&(1<<(i&63)) != 0 }

func (b *bitset) set(i int) { b.w[i>>6] |= 1 << (i & 63) }

// grow extends the set to n bits (new bits clear).
func (b *bitset) grow(n int) {
	if n <= b.n {
		return
	}
	words := (n + 63) >> 6
	if words > len(b.w) {
		b.w = append(b.w, make([]uint64, words-len(b.w))...)
	}
	b.n = n
}

// truncate shrinks the set to n bits and returns how many set bits were cut off.
func (b *bitset) truncate(n int) int {
	if n >= b.n {
		return 0
	}
	cut := 0
	for i := n; i < b.n; i++ {
		if b.get(i) {
			cut++
			b.w[i>>6] &^= 1 << (i & 63)
		}
	}
	b.n = n
	b.w = b.w[:(n+63)>>6]
	return cut
}

// nextClear returns the first clear bit at or after i, wrapping around; -1 if none.
func (b *bitset) nextClear(i int) int {
	if b.n == 0 {
		return -1
	}
	for range 2 {
		for i < b.n {
			w := ^b.w[i>>6] >> (i & 63)
			if w != 0 {
				j := i + bits.TrailingZeros64(w)
				if j < b.n {
					return j
				}
				break
			}
			i = (i | 63) + 1
		}
		i = 0
	}
	return -1
}

// chunkTimes is a per-chunk time kept only for the chunks that have one (a receiver's
// whole-chunk timers), bounded: when full, expired entries go; if none has expired a
// new entry is refused (the chunk is then simply not held back: asking again is safe).
type chunkTimes struct {
	m   map[uint32]int64
	max int
}

func (c *chunkTimes) get(k uint32) int64 { return c.m[k] }

func (c *chunkTimes) set(k uint32, v, now int64) {
	if c.m == nil {
		c.m = make(map[uint32]int64)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for kk, vv := range c.m {
			if vv <= now {
				delete(c.m, kk)
			}
		}
		if len(c.m) >= c.max {
			return
		}
	}
	c.m[k] = v
}

func (c *chunkTimes) del(k uint32) { delete(c.m, k) }

func (c *chunkTimes) reset() { clear(c.m) }

// cut drops the entries of chunks >= n (the count shrank).
func (c *chunkTimes) cut(n uint32) {
	for k := range c.m {
		if k >= n {
			delete(c.m, k)
		}
	}
}

// maxCovers bounds the whole-chunk covers a receiver remembers (requests it heard).
const maxCovers = 8192
