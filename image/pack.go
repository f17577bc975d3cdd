package image

import (
	"errors"
	"math"
	"sort"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// result is one job turned into chunks, in order. Chunks are numbered
// when emitted.
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

// packer turns jobs into encoded chunks that fill the chunk size. It owns
// a streaming zstd encoder and feeds it a job's bytes in blocks, flushing
// after each, so it always knows the compressed size so far. A block is
// only fed if it fits even if it does not compress at all, so a chunk
// never overflows and nothing is compressed twice; one frame per chunk
// keeps the match history across blocks.
type packer struct {
	enc   *zstd.Encoder
	out   appendWriter
	p     createParams
	id    ID
	ratio *atomic.Uint64
}

// zstdBlock is the largest block fed at once (zstd's own block size).
const zstdBlock = 128 << 10

// Worst-case zstd overhead: frame header and closing block, and a block
// header per flushed block (a block that does not shrink is stored raw).
const (
	frameSlack = 32
	blockSlack = 8
)

func newPacker(p createParams, level int, id ID, ratio *atomic.Uint64) (*packer, error) {
	window := zstdWindow(p.maxRaw)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(window))
	if err != nil {
		return nil, err
	}
	return &packer{enc: enc, p: p, id: id, ratio: ratio}, nil
}

func (pk *packer) close() { pk.enc.Close() }

// appendWriter collects the encoder's output.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func (pk *packer) pack(j *job) (*result, error) {
	r := &result{seq: j.seq, last: j.last}
	// cum[i] is where range i's bytes start in j.raw.
	cum := make([]int, len(j.ranges)+1)
	for i, rg := range j.ranges {
		cum[i+1] = cum[i] + int(rg.Len)
	}
	spanOff := j.span.Off
	for pos := 0; ; {
		c, n, err := pk.chunk(j, cum, pos, spanOff)
		if err != nil {
			return nil, err
		}
		if n == 0 && pos < len(j.raw) {
			return nil, errors.New("image: internal error: empty chunk inside a job")
		}
		r.chunks = append(r.chunks, c)
		pos += n
		spanOff = c.span.End()
		if pos >= len(j.raw) {
			return r, nil
		}
	}
}

// rangesIn returns the ranges holding raw bytes [a, b) of the job, clipped.
func rangesIn(ranges []Range, cum []int, a, b int) []Range {
	if a >= b {
		return nil
	}
	i := sort.SearchInts(cum, a+1) - 1 // range containing a
	k := sort.SearchInts(cum, b)       // first range starting at or after b
	out := make([]Range, 0, k-i)
	for x := i; x < k; x++ {
		lo, hi := max(cum[x], a), min(cum[x+1], b)
		out = append(out, Range{Off: ranges[x].Off + int64(lo-cum[x]), Len: int64(hi - lo)})
	}
	return out
}

// countRanges is len(rangesIn(...)) without building them.
func countRanges(cum []int, a, b int) int {
	if a >= b {
		return 0
	}
	return sort.SearchInts(cum, b) - (sort.SearchInts(cum, a+1) - 1)
}

// chunk encodes the next chunk from raw offset pos of the job and says how
// many raw bytes it took.
func (pk *packer) chunk(j *job, cum []int, pos int, spanOff int64) (packed, int, error) {
	rest := len(j.raw) - pos
	pk.out.b = pk.out.b[:0]
	pk.enc.Reset(&pk.out)
	k := 0
	for k < rest && k < pk.p.maxRaw {
		sub := min(zstdBlock, rest-k, pk.p.maxRaw-k)
		nr := countRanges(cum, pos, pos+k+sub)
		if nr > pk.p.maxRanges { // end the chunk at the last range that fits
			sub = cum[sort.SearchInts(cum, pos+1)-1+pk.p.maxRanges] - pos - k
			nr = pk.p.maxRanges
		}
		room := pk.p.chunkSize - chunkHeaderLen(nr, 0) - frameSlack - blockSlack - pk.p.seal - len(pk.out.b)
		if sub > room {
			sub = room // fewer bytes never need more ranges
		}
		if sub <= 0 || (k > 0 && sub < ZeroBlock && sub < rest-k) {
			break // full: more tiny blocks would cost more than they add
		}
		if _, err := pk.enc.Write(j.raw[pos+k : pos+k+sub]); err != nil {
			return packed{}, 0, err
		}
		if err := pk.enc.Flush(); err != nil {
			return packed{}, 0, err
		}
		k += sub
	}
	if err := pk.enc.Close(); err != nil {
		return packed{}, 0, err
	}
	ranges := rangesIn(j.ranges, cum, pos, pos+k)
	span := Range{Off: spanOff}
	if pos+k < len(j.raw) {
		span.Len = ranges[len(ranges)-1].End() - spanOff
	} else {
		span.Len = j.span.End() - spanOff
	}
	comp := pk.out.b
	pk.observe(k, len(comp))
	h := ChunkHeader{ImageID: pk.id, Span: span, Ranges: ranges, RawLen: uint32(k), Codec: CodecZstd}
	payload := comp
	if k == 0 || len(comp) >= k {
		h.Codec, payload = CodecNone, j.raw[pos:pos+k]
	}
	hl := chunkHeaderLen(len(ranges), 0)
	out := make([]byte, hl, hl+len(payload)+pk.p.seal)
	out = append(out, payload...)
	appendChunkHeader(out[:0], &h, out[hl:])
	return packed{data: out, span: span, raw: k, stored: h.Codec == CodecNone}, k, nil
}

// observe feeds the raw/compressed ratio back to the cutter.
func (pk *packer) observe(raw, comp int) {
	if comp <= 0 || raw < ZeroBlock {
		return
	}
	r := math.Min(float64(raw)/float64(comp), RawFactor)
	old := math.Float64frombits(pk.ratio.Load())
	pk.ratio.Store(math.Float64bits(0.5*old + 0.5*r))
}

// zstdWindow is the zstd window for chunks of at most maxRaw raw bytes: the
// power of two that covers them, at most 8 MiB. Installers accept windows
// up to the same bound (see NewInstaller).
// newChunkDecoder returns a zstd decoder for the chunks of an image with header h,
// bounded for input from an untrusted network: output is capped per chunk at its
// RawLen (WithDecodeAllCapLimit), and the memory limit admits no more than the window
// the creator uses.
func newChunkDecoder(h *Header, concurrency int) (*zstd.Decoder, error) {
	maxRaw := uint64(max(h.MaxRawLen(), zstdWindow(h.MaxRawLen())))
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(concurrency),
		zstd.WithDecoderMaxMemory(maxRaw),
		zstd.WithDecoderMaxWindow(uint64(zstdWindow(int(maxRaw)))),
		zstd.WithDecodeAllCapLimit(true))
}

func zstdWindow(maxRaw int) int {
	w := zstd.MinWindowSize
	for w < maxRaw && w < 8<<20 {
		w <<= 1
	}
	return w
}
