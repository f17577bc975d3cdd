package fec

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchLoss is the loss rate the benchmarks repair: 5 % of the data blocks.
const benchLoss = 0.05

// BenchmarkEncode measures a sender answering 5 % loss on a 1 MiB chunk:
// building the Encoder and fetching ceil(5 % of K) parity blocks, which
// computes and caches all M of them.
func BenchmarkEncode(b *testing.B) {
	for _, bs := range []int{1400, 8900} {
		b.Run(sizeName(bs), func(b *testing.B) {
			p := Params{BlockSize: bs}
			chunk := randChunk(rand.New(rand.NewPCG(1, 2)), 1<<20)
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			cpu := startCPU(b)
			defer cpu.report(b, len(chunk))
			for b.Loop() {
				enc, err := NewEncoder(p, chunk)
				if err != nil {
					b.Fatal(err)
				}
				need := int(float64(enc.K())*benchLoss + 0.999)
				for j := range need {
					if _, err := enc.Block(enc.K() + j); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkDecode measures a receiver rebuilding a 1 MiB chunk that lost 5 %
// of its data blocks: adding the K blocks it has (copies), Bytes, and
// Release, as a receiver that recycles its buffers would.
func BenchmarkDecode(b *testing.B) {
	for _, bs := range []int{1400, 8900} {
		b.Run(sizeName(bs), func(b *testing.B) {
			benchDecode(b, Params{BlockSize: bs}, -1)
		})
	}
}

// BenchmarkDecodeLost is BenchmarkDecode/block1400 (749 blocks) with a given
// number of lost data blocks, repaired by as many parity blocks: decode work
// should follow what was lost.
func BenchmarkDecodeLost(b *testing.B) {
	for _, lose := range []int{0, 1, 4, 16, 64, 150, 188} {
		b.Run(fmt.Sprint(lose), func(b *testing.B) {
			benchDecode(b, Params{BlockSize: 1400}, lose)
		})
	}
}

// benchDecode rebuilds a 1 MiB chunk that lost `lose` random data blocks
// (-1: 5 % of them), repaired by parity blocks 0..lose-1.
func benchDecode(b *testing.B, p Params, lose int) {
	r := rand.New(rand.NewPCG(3, 4))
	chunk := randChunk(r, 1<<20)
	enc, _ := NewEncoder(p, chunk)
	k := enc.K()
	if lose < 0 {
		lose = int(float64(k)*benchLoss + 0.999)
	}
	var idx []int
	for _, i := range r.Perm(k)[lose:] {
		idx = append(idx, i)
	}
	for j := range lose {
		idx = append(idx, k+j)
	}
	blocks := make([][]byte, len(idx))
	for n, i := range idx {
		blocks[n], _ = enc.Block(i)
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	cpu := startCPU(b)
	defer cpu.report(b, len(chunk))
	for b.Loop() {
		dec, err := NewDecoder(p, len(chunk))
		if err != nil {
			b.Fatal(err)
		}
		for n, i := range idx {
			dec.Add(i, blocks[n])
		}
		if _, err := dec.Bytes(); err != nil {
			b.Fatal(err)
		}
		dec.Release()
	}
}

func sizeName(bs int) string {
	if bs == 1400 {
		return "block1400"
	}
	return "block8900"
}

// BenchmarkChunk16MiB shows the same work on a maximum-size chunk, where the
// decoder's fixed per-call cost is amortized over 16 times more data.
func BenchmarkChunk16MiB(b *testing.B) {
	p := Params{BlockSize: 1400}
	r := rand.New(rand.NewPCG(5, 6))
	chunk := randChunk(r, 16<<20)
	enc, _ := NewEncoder(p, chunk)
	k := enc.K()
	lose := int(float64(k)*benchLoss + 0.999)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		cpu := startCPU(b)
		defer cpu.report(b, len(chunk))
		for b.Loop() {
			e, _ := NewEncoder(p, chunk)
			if _, err := e.Block(k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		cpu := startCPU(b)
		defer cpu.report(b, len(chunk))
		for b.Loop() {
			dec, _ := NewDecoder(p, len(chunk))
			for i := lose; i < k; i++ {
				blk, _ := enc.Block(i)
				dec.Add(i, blk)
			}
			for j := range lose {
				blk, _ := enc.Block(k + j)
				dec.Add(k+j, blk)
			}
			if _, err := dec.Bytes(); err != nil {
				b.Fatal(err)
			}
			dec.Release()
		}
	})
}

// BenchmarkDecodeNoLoss is the common case: every data block arrives.
func BenchmarkDecodeNoLoss(b *testing.B) {
	p := Params{BlockSize: 1400}
	chunk := randChunk(rand.New(rand.NewPCG(7, 8)), 1<<20)
	enc, _ := NewEncoder(p, chunk)
	b.SetBytes(int64(len(chunk)))
	cpu := startCPU(b)
	defer cpu.report(b, len(chunk))
	for b.Loop() {
		dec, _ := NewDecoder(p, len(chunk))
		for i := range enc.K() {
			blk, _ := enc.Block(i)
			dec.Add(i, blk)
		}
		if _, err := dec.Bytes(); err != nil {
			b.Fatal(err)
		}
		dec.Release()
	}
}
