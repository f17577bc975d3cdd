package image

import (
	"math"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// result is one job turned into chunks (more than one if its data did not
// compress into a single chunk). Chunks are numbered when emitted.
type result struct {
	seq    int
	last   bool
	chunks []packed
}

type packed struct {
	data   []byte
	span   Range
	raw    int
	stored bool
}

// packer turns jobs into encoded chunks that fit the chunk size.
type packer struct {
	enc   *zstd.Encoder
	p     createParams
	id    ID
	ratio *atomic.Uint64
}

func (pk *packer) pack(j *job) *result {
	r := &result{seq: j.seq, last: j.last}
	ranges, raw, spanOff := j.ranges, j.raw, j.span.Off
	for {
		k, out := pk.fit(ranges, raw)
		pre, post := splitRanges(ranges, k)
		spanEnd := j.span.End()
		if len(post) > 0 {
			spanEnd = pre[len(pre)-1].End()
		}
		c := pk.finish(pre, raw[:k], out, Range{Off: spanOff, Len: spanEnd - spanOff})
		r.chunks = append(r.chunks, c)
		if len(post) == 0 {
			return r
		}
		ranges, raw, spanOff = post, raw[k:], spanEnd
	}
}

// fit finds how many of raw's bytes go into the next chunk: all of them if
// they compress into the budget, else a prefix sized from the ratio seen.
// The search only shrinks, and stops at latest where storing raw fits. It
// returns the compressed prefix behind room for its chunk header, or nil
// if the prefix is to be stored raw.
func (pk *packer) fit(ranges []Range, raw []byte) (int, []byte) {
	k := len(raw)
	for {
		pre, _ := splitRanges(ranges, k)
		hl := chunkHeaderLen(len(pre), 0)
		budget := pk.p.chunkSize - hl
		if k <= budget && k < 256 {
			return k, nil // too small to be worth compressing
		}
		out := pk.enc.EncodeAll(raw[:k], make([]byte, hl, hl+min(k, budget)+64))
		clen := len(out) - hl
		pk.observe(k, clen)
		switch {
		case clen <= budget && clen < k:
			return k, out
		case k <= budget:
			return k, nil
		}
		est := int(float64(k) * float64(budget) / float64(clen) * 0.92)
		k = max(budget, min(est, k-1))
	}
}

// observe feeds the raw/compressed ratio back to the cutter.
func (pk *packer) observe(raw, comp int) {
	if comp <= 0 {
		return
	}
	r := math.Min(float64(raw)/float64(comp), RawFactor)
	old := math.Float64frombits(pk.ratio.Load())
	pk.ratio.Store(math.Float64bits(0.7*old + 0.3*r))
}

// finish writes the chunk header in front of a compressed payload (out) or
// builds a stored chunk from raw (out nil).
func (pk *packer) finish(ranges []Range, raw, out []byte, span Range) packed {
	h := ChunkHeader{ImageID: pk.id, Span: span, Ranges: ranges, RawLen: uint32(len(raw))}
	hl := chunkHeaderLen(len(ranges), 0)
	stored := out == nil
	if stored {
		out = append(make([]byte, hl, hl+len(raw)), raw...)
	} else {
		h.Codec = CodecZstd
	}
	appendChunkHeader(out[:0], &h, out[hl:])
	return packed{data: out, span: span, raw: len(raw), stored: stored}
}

// splitRanges splits ranges after their first k bytes.
func splitRanges(ranges []Range, k int) (pre, post []Range) {
	left := int64(k)
	for i, r := range ranges {
		if left >= r.Len {
			left -= r.Len
			continue
		}
		if left == 0 {
			return ranges[:i:i], ranges[i:]
		}
		pre = append(ranges[:i:i], Range{Off: r.Off, Len: left})
		post = append([]Range{{Off: r.Off + left, Len: r.Len - left}}, ranges[i+1:]...)
		return pre, post
	}
	return ranges, nil
}
