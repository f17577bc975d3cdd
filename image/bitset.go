package image

import "math/bits"

// bitset is a growable set of chunk indexes (bounded by MaxChunkCount
// through ParseChunk, so at most 8 MiB).
type bitset struct{ w []uint64 }

func (b *bitset) get(i int) bool {
	return i >= 0 && i/64 < len(b.w) && b.w[i/64]&(1<<(i%64)) != 0
}

func (b *bitset) set(i int) {
	for i/64 >= len(b.w) {
		b.w = append(b.w, make([]uint64, max(len(b.w), 1))...)
	}
	b.w[i/64] |= 1 << (i % 64)
}

func (b *bitset) clear(i int) {
	if b.get(i) {
		b.w[i/64] &^= 1 << (i % 64)
	}
}

// max is the highest index set, or -1.
func (b *bitset) max() int {
	for k := len(b.w) - 1; k >= 0; k-- {
		if b.w[k] != 0 {
			return k*64 + 63 - bits.LeadingZeros64(b.w[k])
		}
	}
	return -1
}

// missing lists indexes below count that are not set, at most limit of
// them (all if limit <= 0).
func (b *bitset) missing(count, limit int) []int {
	var out []int
	for i := 0; i < count; i++ {
		if k := i / 64; i%64 == 0 && k < len(b.w) && b.w[k] == ^uint64(0) && i+64 <= count {
			i += 63
			continue
		}
		if !b.get(i) {
			out = append(out, i)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
	}
	return out
}
