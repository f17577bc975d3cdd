package fec

import (
	"crypto/subtle"
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// The systematic rebuild: for a GF(2^16) code, recover only the e lost data
// blocks from e parity blocks, instead of leopard's full decode (two
// transforms over ceilPow2(K+M) positions and an error locator over all
// 65536 field elements, whatever e is).
//
// With P the parity blocks used and E the lost data blocks,
//
//	p_j = sum_{i not in E} G[j][i] d_i + sum_{i in E} G[j][i] d_i   (j in P)
//
// so the syndromes s_j = p_j - sum_{i not in E} G[j][i] d_i satisfy
// H x = s with H = G[P][E], e×e; x = H^-1 s. G is leopard's generator
// (a scaled Cauchy matrix, see cauchy), H^-1 has a closed form, and the
// syndromes are computed either directly (e·K multiply-adds: cheapest for a
// few losses) or by re-encoding the received data with the lost blocks
// zeroed (the cost of one encode, whatever e is). The rebuilt bytes are
// those of leopard's decoder: same code, same chunk.

// Which rebuild runs, by the number e of lost data blocks, from
// BenchmarkDecodeLost and per-path timings on 1 MiB and 16 MiB chunks of
// 1400-byte blocks. Re-encoding costs one encode (K log m work, m =
// ceilPow2(M)), the direct syndromes e·K: on 749 blocks direct wins up to
// e = 5, on 11985 blocks up to e = 7, i.e. e <= log2(m)/2 + 1. The solve
// costs e^2 block operations against leopard's ~n log2 n (n =
// ceilPow2(K+m)); they meet near e^2 = n log2 n (e ~ 100 of 749 blocks,
// ~500 of 11985).
func (c code) directMax() int { return bits.Len(uint(ceilPow2(c.m)))/2 + 1 }

func (c code) systematicMax() int {
	n := ceilPow2(ceilPow2(c.m) + c.k)
	return int(math.Sqrt(float64(n * bits.Len(uint(n-1)))))
}

// scratch recycles the rebuild's work buffers.
var scratch sync.Pool

func getScratch(n int) []byte {
	if p, ok := scratch.Get().(*[]byte); ok && cap(*p) >= n {
		b := (*p)[:n]
		clear(b)
		return b
	}
	return make([]byte, n)
}

func putScratch(b []byte) { scratch.Put(&b) }

// rebuildPath is how a decoder rebuilds lost data blocks.
type rebuildPath int

const (
	pathLeopard  rebuildPath = iota // leopard's decoder
	pathDirect                      // systematic, syndromes computed directly
	pathReencode                    // systematic, syndromes by re-encoding
)

// libTables reports whether decoders may use the library's GF(2^16) coder:
// Warm has built its 74 MiB of tables (a sender) and the CPU can run it.
// Otherwise (a receiver) they re-encode with fec's own (fft.go).
func libTables() bool { return leopard16OK && tables.lib.Load() }

// path chooses the cheapest rebuild for the blocks held. Over GF(2^16)
// leopard's decoder needs the library's tables: without them (libTables) the
// systematic rebuild serves every loss, re-encoding with fec's own encoder.
func (d *Decoder) path() rebuildPath {
	switch lost := d.c.k - d.nData; {
	case lost > d.c.systematicMax() && (d.c.small() || libTables()):
		return pathLeopard
	case !d.c.small() && lost <= d.c.directMax():
		return pathDirect
	}
	return pathReencode
}

// rebuild recovers the lost data blocks in place (chunk layout, block i at
// i*bs) from the data blocks held and as many parity blocks, computing the
// syndromes directly or by re-encoding.
func (d *Decoder) rebuild(direct bool) error {
	c := d.c
	var lost, par []int
	for i := 0; i < c.k; i++ {
		if !d.has(i) {
			lost = append(lost, i)
			clear(d.data[i*c.bs : (i+1)*c.bs])
		}
	}
	e := len(lost)
	for j, p := range d.parity {
		if p != nil && len(par) < e {
			par = append(par, j)
		}
	}
	if len(par) < e {
		return fmt.Errorf("fec: rebuilding: %d parity blocks for %d lost", len(par), e)
	}
	f := &gf
	if c.small() {
		gf8Init()
		f = &gf8
		direct = false // would translate every block held (see mulAdd8)
	} else {
		gfInit()
	}
	cy := newCauchy(f, c.k, c.m)
	st := c.stride()

	// Syndromes, in the stride layout (tail packed) of stored parity.
	var syn [][]byte
	var buf []byte
	if direct {
		buf = getScratch(e * st)
		syn = make([][]byte, e)
		for a, j := range par {
			syn[a] = buf[a*st : (a+1)*st]
			copy(syn[a], d.parity[j])
		}
		d.directSyndromes(cy, lost, par, syn)
	} else {
		var err error
		buf, err = d.reencode()
		if err != nil {
			return err
		}
		syn = make([][]byte, e)
		for a, j := range par {
			syn[a] = buf[j*st : (j+1)*st]
			subtle.XORBytes(syn[a], syn[a], d.parity[j])
		}
	}

	// x = H^-1 s: the main parts straight into the chunk, the tails through
	// packed shards.
	inv := make([]uint16, e*e)
	cy.inverse(par, lost, inv)
	out := make([][]byte, e)
	if !c.small() {
		// One pass over whole stride-sized syndromes (tail packed), so that each
		// coefficient's table is built once for both parts of a block.
		res := getScratch(e * st)
		for b := range lost {
			out[b] = res[b*st : (b+1)*st]
		}
		mulAdd(inv, syn, out)
		for b, i := range lost {
			copy(d.data[i*c.bs:i*c.bs+c.mainLen], out[b][:c.mainLen])
			if c.tailLen > 0 {
				unpackTail(d.data[i*c.bs+c.mainLen:(i+1)*c.bs], out[b][c.mainLen:])
			}
		}
		putScratch(res)
		putScratch(buf)
		return nil
	}
	solve := mulAdd8
	for a := range syn {
		translate(syn[a], gf8.toStd)
	}
	if c.mainLen > 0 {
		in := make([][]byte, e)
		for a := range syn {
			in[a] = syn[a][:c.mainLen]
		}
		for b, i := range lost {
			out[b] = d.data[i*c.bs : i*c.bs+c.mainLen]
		}
		solve(inv, in, out)
	}
	if c.tailLen > 0 {
		tails := getScratch(e * symbolGroup)
		in := make([][]byte, e)
		for a := range syn {
			in[a] = syn[a][c.mainLen:]
		}
		for b := range lost {
			out[b] = tails[b*symbolGroup : (b+1)*symbolGroup]
		}
		solve(inv, in, out)
		for b, i := range lost {
			unpackTail(d.data[i*c.bs+c.mainLen:(i+1)*c.bs], out[b])
		}
		putScratch(tails)
	}
	putScratch(buf)
	return nil
}

// directSyndromes subtracts from each syn[a] (a copy of parity block par[a])
// the contribution of every data block held: e·K multiply-adds.
func (d *Decoder) directSyndromes(cy cauchy, lost, par []int, syn [][]byte) {
	c := d.c
	var tail [symbolGroup]byte
	var t mulTable
	next := 0 // index in lost of the next lost block
	for i := 0; i < c.k; i++ {
		if next < len(lost) && lost[next] == i {
			next++
			continue
		}
		blk := d.data[i*c.bs : (i+1)*c.bs]
		if c.tailLen > 0 {
			packTail(tail[:], blk[c.mainLen:])
		}
		for a, j := range par {
			t.set(gf.elem(cy.coefLog(j, i)))
			if c.mainLen > 0 {
				mulXor(&t, blk[:c.mainLen], syn[a][:c.mainLen])
			}
			if c.tailLen > 0 {
				mulXor(&t, tail[:], syn[a][c.mainLen:])
			}
		}
	}
}

// reencode computes the M parity blocks of the data held, lost blocks being
// zero, in the stride layout (M*stride bytes from getScratch).
func (d *Decoder) reencode() ([]byte, error) {
	c := d.c
	if !c.small() && !libTables() {
		st := c.stride()
		buf := getScratch(c.m * st)
		c.ownParity(func(i int) []byte { return d.data[i*c.bs : (i+1)*c.bs] },
			func(j int) []byte { return buf[j*st : (j+1)*st] }, true)
		return buf, nil
	}
	rs, err := c.rs()
	if err != nil {
		return nil, err
	}
	st := c.stride()
	buf := getScratch(c.m * st)
	shards := make([][]byte, c.k+c.m)
	if c.mainLen > 0 {
		for i := 0; i < c.k; i++ {
			shards[i] = d.data[i*c.bs : i*c.bs+c.mainLen]
		}
		for j := 0; j < c.m; j++ {
			shards[c.k+j] = buf[j*st : j*st+c.mainLen]
		}
		if err := rs.Encode(shards); err != nil {
			putScratch(buf)
			return nil, fmt.Errorf("fec: re-encoding: %w", err)
		}
	}
	if c.tailLen > 0 {
		tails := getScratch(c.k * symbolGroup)
		for i := 0; i < c.k; i++ {
			shards[i] = tails[i*symbolGroup : (i+1)*symbolGroup]
			packTail(shards[i], d.data[i*c.bs+c.mainLen:(i+1)*c.bs])
		}
		for j := 0; j < c.m; j++ {
			shards[c.k+j] = buf[j*st+c.mainLen : (j+1)*st]
		}
		err := rs.Encode(shards)
		putScratch(tails)
		if err != nil {
			putScratch(buf)
			return nil, fmt.Errorf("fec: re-encoding tails: %w", err)
		}
	}
	return buf, nil
}

// mulAdd computes out[b] ^= sum_a coef[b*len(in)+a] * in[a], all slices of
// one length (a multiple of 64), with fec's own tables (gf16mul.go).
func mulAdd(coef []uint16, in, out [][]byte) {
	e := len(in)
	var t mulTable
	for b := range out {
		for a := range in {
			if c := coef[b*e+a]; c != 0 {
				t.set(c)
				mulXor(&t, in[a], out[b])
			}
		}
	}
}

// mulAdd8 is mulAdd over leopard's GF(2^8), for inputs already translated to
// the polynomial basis of the library's GF(2^8) routines; it translates the
// outputs back. The translation (a byte table, ~1 ns a byte) is why GF(2^8)
// chunks only re-encode: direct syndromes would translate every block held.
func mulAdd8(coef []uint16, in, out [][]byte) {
	e := len(in)
	for b := range out {
		for a := range in {
			lowLevel.GalMulSliceXor(gf8.toStd[coef[b*e+a]], in[a], out[b])
		}
		translate(out[b], gf8.fromStd)
	}
}
