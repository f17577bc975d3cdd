package fec

import (
	"crypto/subtle"
	"sync"
)

// leopard's GF(2^16) encoder with fec's own arithmetic, so that receivers
// (which re-encode to get syndromes, see rebuild.go) and CPUs where the
// library's coder cannot run (see cauchyParity) never build the library's
// 74 MiB of tables. It is leopard's algorithm (klauspost/reedsolomon
// leopard.go, MIT licence: an IFFT of each group of m = ceilPow2(M) data
// blocks into m work blocks, summed, then an FFT onto the parity positions)
// written as plain radix-2 layers; leopard unrolls them by two, which
// changes nothing in the result (tests compare the parity byte for byte).

// logMod is leopard's log of zero, and its marker for "no multiply".
const logMod = fieldOrder - 1

// fftSkew is leopard's FFT skew vector (as logs) for GF(2^16), 128 KiB.
var fftSkew struct {
	once sync.Once
	lut  []uint16
}

// flog is leopard's log, with log 0 = logMod.
func flog(x uint16) uint16 {
	if x == 0 {
		return logMod
	}
	return gf.log[x]
}

// mulLog is leopard's a * exp(logB).
func mulLog(a, logB uint16) uint16 {
	if a == 0 {
		return 0
	}
	return gf.exp[int(gf.log[a])+int(logB)]
}

func skewLUT() []uint16 {
	fftSkew.once.Do(func() {
		gfInit()
		const bitwidth = 16
		var temp [bitwidth - 1]uint16
		for i := 1; i < bitwidth; i++ {
			temp[i-1] = 1 << i
		}
		skew := make([]uint16, logMod)
		for m := range bitwidth - 1 {
			step := 1 << (m + 1)
			skew[1<<m-1] = 0
			for i := m; i < bitwidth-1; i++ {
				s := 1 << (i + 1)
				for j := 1<<m - 1; j < s; j += step {
					skew[j+s] = skew[j] ^ temp[i]
				}
			}
			temp[m] = logMod - flog(mulLog(temp[m], flog(temp[m]^1)))
			for i := m + 1; i < bitwidth-1; i++ {
				sum := addMod16(flog(temp[i]^1), temp[m])
				temp[i] = mulLog(temp[i], sum)
			}
		}
		for i := range skew {
			skew[i] = flog(skew[i])
		}
		fftSkew.lut = skew
	})
	return fftSkew.lut
}

// addMod16 is leopard's partially reduced sum of logs (may return logMod).
func addMod16(a, b uint16) uint16 {
	sum := uint(a) + uint(b)
	return uint16(sum + sum>>16)
}

// ifftButterflyGo is y ^= x; x ^= t*y.
func ifftButterflyGo(t *mulTable, x, y []byte) {
	subtle.XORBytes(y, y, x)
	mulXorGo(t, y, x)
}

// fftButterflyGo is x ^= t*y; y ^= x.
func fftButterflyGo(t *mulTable, x, y []byte) {
	mulXorGo(t, y, x)
	subtle.XORBytes(y, y, x)
}

// setLog fills t for the constant of log l.
func (t *mulTable) setLog(l uint16) { t.set(gf.exp[l]) }

// ifftLayers runs leopard's encoder IFFT in place on work[:m] (the first
// mtrunc blocks hold data, the rest zero).
func ifftLayers(work [][]byte, mtrunc, m int, skew []uint16) {
	var t mulTable
	for dist := 1; dist < m; dist <<= 1 {
		for r := 0; r < mtrunc; r += 2 * dist {
			l := skew[r+dist]
			if l != logMod {
				t.setLog(l)
			}
			for i := r; i < r+dist; i++ {
				x, y := work[i], work[i+dist]
				if l == logMod {
					subtle.XORBytes(y, y, x)
				} else {
					ifftButterfly(&t, x, y)
				}
			}
		}
	}
}

// fftLayers is leopard's FFT onto the first mtrunc positions of work[:m].
func fftLayers(work [][]byte, mtrunc, m int, skew []uint16) {
	var t mulTable
	for dist := m / 2; dist >= 1; dist >>= 1 {
		for r := 0; r < mtrunc; r += 2 * dist {
			l := skew[r+dist-1]
			if l != logMod {
				t.setLog(l)
			}
			for i := r; i < r+dist; i++ {
				x, y := work[i], work[i+dist]
				if l == logMod {
					subtle.XORBytes(y, y, x)
				} else {
					fftButterfly(&t, x, y)
				}
			}
		}
	}
}

// fftEncode computes leopard's GF(2^16) parity of the k data shards into
// the mPar parity shards (all of one length, a multiple of 64). work holds
// 2*ceilPow2(mPar) scratch shards of that length.
func fftEncode(data, parity, work [][]byte) {
	k, mPar := len(data), len(parity)
	m := ceilPow2(mPar)
	skew := skewLUT()
	acc, tmp := work[:m], work[m:2*m]
	group := func(dst [][]byte, first, n int) {
		for i := range n {
			copy(dst[i], data[first+i])
		}
		for i := n; i < m; i++ {
			clear(dst[i])
		}
		ifftLayers(dst, n, m, skew[m-1+first:])
	}
	group(acc, 0, min(k, m))
	for first := m; first < k; first += m {
		n := min(m, k-first)
		group(tmp, first, n)
		for i := range m {
			subtle.XORBytes(acc[i], acc[i], tmp[i])
		}
	}
	fftLayers(acc, mPar, m, skew)
	for j := range parity {
		copy(parity[j], acc[j])
	}
}

// ownParity computes the code's M parity blocks with fftEncode. block(i)
// returns data block i (bs bytes, lost blocks zero), parity(j) the bs bytes
// that receive parity block j in the chunk layout, or, with packed, the
// stride bytes of the stride layout (tail packed as in Decoder buffers).
func (c code) ownParity(block func(i int) []byte, parity func(j int) []byte, packed bool) {
	m2 := 2 * ceilPow2(c.m)
	data := make([][]byte, c.k)
	par := make([][]byte, c.m)
	work := make([][]byte, m2)
	if c.mainLen > 0 {
		ws := getScratch(m2 * c.mainLen)
		for i := range data {
			data[i] = block(i)[:c.mainLen]
		}
		for j := range par {
			par[j] = parity(j)[:c.mainLen]
		}
		for w := range work {
			work[w] = ws[w*c.mainLen : (w+1)*c.mainLen]
		}
		fftEncode(data, par, work)
		putScratch(ws)
	}
	if c.tailLen > 0 {
		ts := getScratch((c.k + c.m + m2) * symbolGroup)
		shard := func(n int) []byte { return ts[n*symbolGroup : (n+1)*symbolGroup] }
		for i := range data {
			data[i] = shard(i)
			packTail(data[i], block(i)[c.mainLen:c.bs])
		}
		for j := range par {
			par[j] = shard(c.k + j)
		}
		for w := range work {
			work[w] = shard(c.k + c.m + w)
		}
		fftEncode(data, par, work)
		for j := range par {
			if packed {
				copy(parity(j)[c.mainLen:], par[j])
			} else {
				unpackTail(parity(j)[c.mainLen:c.bs], par[j])
			}
		}
		putScratch(ts)
	}
}
