package fec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// TestGFTables checks the scalar field against the library's product.
func TestGFTables(t *testing.T) {
	gfInit()
	for x := 1; x < fieldOrder; x++ {
		if gf.exp[gf.log[x]] != uint16(x) {
			t.Fatalf("exp(log %#x) = %#x", x, gf.exp[gf.log[x]])
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 200000 {
		a, b := uint16(r.UintN(fieldOrder-1)+1), uint16(r.UintN(fieldOrder-1)+1)
		if got, want := gf.elem(uint64(gf.log[a])+uint64(gf.log[b])), lowLevel.GF16Mul(a, b); got != want {
			t.Fatalf("%#x * %#x = %#x, library says %#x", a, b, got, want)
		}
		if lowLevel.GF16Mul(a, gf.elem(gf.invLog(a))) != 1 {
			t.Fatalf("inverse of %#x", a)
		}
	}
	// GF(2^8): toStd is an isomorphism onto the library's field.
	gf8Init()
	var ll reedsolomon.LowLevel
	for a := 1; a < 256; a++ {
		for b := 1; b < 256; b++ {
			out := []byte{0}
			ll.GalMulSlice(gf8.toStd[a], []byte{gf8.toStd[b]}, out)
			if got := gf8.fromStd[out[0]]; uint16(got) != gf8.elem(uint64(gf8.log[a])+uint64(gf8.log[b])) {
				t.Fatalf("GF(2^8) %d * %d", a, b)
			}
		}
	}
}

// TestCauchyIsLeopard checks cauchy's coefficients against leopard's encoder:
// unit vectors in the symbol columns of a few data blocks encode to the
// generator's columns.
func TestCauchyIsLeopard(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	gfInit()
	gf8Init()
	for _, km := range [][2]int{{1, 8}, {118, 30}, {100, 8}, {40, 17}, {200, 2}, {257, 8}, {300, 1}, {749, 188}, {749, 128}, {1000, 600}, {5000, 17}, {12000, 3000}, {MaxBlocks, Params{}.Parity(MaxBlocks)}} {
		k, m := km[0], km[1]
		t.Run(fmt.Sprint(k, "/", m), func(t *testing.T) {
			small := fitsField(k, m, 1<<8)
			opt, f := reedsolomon.WithLeopardGF16(true), &gf
			if small {
				opt, f = reedsolomon.WithLeopardGF(true), &gf8
			}
			rs, err := reedsolomon.New(k, m, opt)
			if err != nil {
				t.Fatal(err)
			}
			cols := r.Perm(k)[:min(k, 64)]
			cols = append(cols, 0, k-1) // both ends
			size := (len(cols) + 31) / 32 * symbolGroup
			sh := make([][]byte, k+m)
			for i := range sh {
				sh[i] = make([]byte, size)
			}
			at := func(c int) int { return c/32*64 + c%32 } // symbol c's low byte
			if small {
				at = func(c int) int { return c }
			}
			for c, i := range cols {
				sh[i][at(c)] ^= 1
			}
			if err := rs.Encode(sh); err != nil {
				t.Fatal(err)
			}
			cy := newCauchy(f, k, m)
			for c, i := range cols {
				if slices.Index(cols, i) != c {
					continue // a duplicate column holds the sum
				}
				for j := range m {
					b := sh[k+j]
					got := uint16(b[at(c)])
					if !small {
						got |= uint16(b[at(c)+32]) << 8
					}
					if want := f.elem(cy.coefLog(j, i)); got != want {
						t.Fatalf("G[%d][%d] = %#x, cauchy says %#x", j, i, got, want)
					}
				}
			}
		})
	}
}

// TestCauchyInverse checks the closed-form inverse: H * inverse = I.
func TestCauchyInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	gfInit()
	gf8Init()
	for _, km := range [][2]int{{118, 30}, {40, 17}, {749, 188}, {300, 8}, {MaxBlocks, 8192}} {
		k, m := km[0], km[1]
		f := &gf
		if fitsField(k, m, 1<<8) {
			f = &gf8
		}
		cy := newCauchy(f, k, m)
		for _, e := range []int{1, 2, 3, 7, 8, min(m, 64), min(m, 150)} {
			lost := r.Perm(k)[:e]
			par := r.Perm(m)[:e]
			inv := make([]uint16, e*e)
			cy.inverse(par, lost, inv)
			for a := range e {
				for a2 := range e {
					// (H inv)[a][a2] = sum_b H[a][b] inv[b][a2]
					var sum uint16
					for b := range e {
						if v := inv[b*e+a2]; v != 0 {
							sum ^= f.elem(cy.coefLog(par[a], lost[b]) + uint64(f.log[v]))
						}
					}
					if want := uint16(0); a == a2 && sum != 1 || a != a2 && sum != want {
						t.Fatalf("k=%d m=%d e=%d: (H inv)[%d][%d] = %#x", k, m, e, a, a2, sum)
					}
				}
			}
		}
	}
}

// TestRebuildPaths rebuilds random loss patterns with every rebuild path and
// checks each gives the exact chunk: the systematic rebuild against
// leopard's decoder, over odd block sizes, cut last blocks, parity from
// anywhere in [0, M), and the largest K.
func TestRebuildPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	cases := []struct {
		bs, chunkLen, maxParity int
	}{
		{1400, 1 << 20, 0},
		{1400, 1<<20 - 777, 0},
		{8900, 2 << 20, 0},             // 236 blocks: GF(2^16)
		{1408, 300 * 1408, 0},          // no tail
		{66, 500*66 - 3, 0},            // 64-byte main part and a 2-byte tail
		{62, 1000 * 62, 0},             // tail only
		{2, 900, 0},                    // 450 one-symbol blocks
		{1400, 260 * 1400, 8},          // M below the default
		{136, 20000 * 136, 1},          // one parity block
		{64, MaxBlocks * 64, 0},        // the largest K
		{510, MaxBlocks*510 - 1001, 0}, // the largest K, odd tail
		{8900, 1 << 20, 0},             // GF(2^8) from here on
		{8900, 1<<20 - 5, 0},
		{64, 40 * 64, 0},
		{2, 100, 0},
		{1400, 150*1400 - 99, 8},
	}
	for _, tc := range cases {
		p := Params{BlockSize: tc.bs, MaxParity: tc.maxParity}
		t.Run(fmt.Sprint(tc.bs, "/", tc.chunkLen, "/", tc.maxParity), func(t *testing.T) {
			chunk := randChunk(r, tc.chunkLen)
			enc, err := NewEncoder(p, chunk)
			if err != nil {
				t.Fatal(err)
			}
			k, m := enc.K(), enc.M()
			dm, sm := enc.c.directMax(), enc.c.systematicMax()
			losses := []int{1, 2, dm, dm + 1, 17, sm}
			if k > 2000 {
				losses = []int{1, dm + 1, min(sm, 150)}
			}
			for _, e := range losses {
				e = min(e, m, k)
				lost := r.Perm(k)[:e]
				if e > 1 {
					lost[0] = k - 1 // the last block, often cut
				}
				par := r.Perm(m)[:min(m, e+r.IntN(3))] // sometimes more parity than needed
				for _, path := range []rebuildPath{pathDirect, pathReencode, pathLeopard} {
					dec, _ := NewDecoder(p, len(chunk))
					for i := range k {
						if !slices.Contains(lost, i) {
							b, _ := enc.Block(i)
							if i == k-1 {
								b = b[:enc.c.lastLen()]
							}
							dec.Add(i, b)
						}
					}
					for _, j := range par {
						b, _ := enc.Block(k + j)
						dec.Add(k+j, b)
					}
					if err := dec.reconstructWith(path); err != nil {
						t.Fatalf("e=%d path %d: %v", e, path, err)
					}
					got, err := dec.Bytes()
					if err != nil || !bytes.Equal(got, chunk) {
						t.Fatalf("e=%d path %d: rebuilt chunk differs (%v)", e, path, err)
					}
					if slices.ContainsFunc(dec.data[tc.chunkLen:], func(b byte) bool { return b != 0 }) {
						t.Fatalf("e=%d path %d: padding not zero", e, path)
					}
					dec.Release()
				}
			}
		})
	}
}
