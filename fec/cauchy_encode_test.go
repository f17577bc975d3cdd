package fec

// cauchyParity (a test reference) computes the M parity blocks (bs bytes each, into parity) of
// a GF(2^16) code straight from leopard's generator (see cauchy): K·M block
// multiply-adds with fec's own tables, against leopard's K log M. It is the
// encoder only where leopard's GF(2^16) coder cannot run: on x86-64 CPUs
// without SSSE3 (qemu's default qemu64 model) klauspost/reedsolomon v1.14.2
// dereferences its PSHUFB table, which it builds only with SSSE3 or AVX2,
// in every 4-way butterfly (ifftDIT4/fftDIT4 in galois_amd64.go), and
// panics. Slow (a 1 MiB chunk takes about 0.2 s on such CPUs) but exact:
// tests compare it with leopard's encoder.
func (c code) cauchyParity(block func(i int) []byte, parity []byte) {
	gfInit()
	cy := newCauchy(&gf, c.k, c.m)
	var t mulTable
	var tail, ptail [symbolGroup]byte
	tails := make([]byte, c.m*symbolGroup)
	for i := 0; i < c.k; i++ {
		b := block(i)
		if c.tailLen > 0 {
			clear(tail[:])
			packTail(tail[:], b[c.mainLen:c.bs])
		}
		for j := 0; j < c.m; j++ {
			t.set(gf.elem(cy.coefLog(j, i)))
			if c.mainLen > 0 {
				mulXor(&t, b[:c.mainLen], parity[j*c.bs:j*c.bs+c.mainLen])
			}
			if c.tailLen > 0 {
				mulXor(&t, tail[:], tails[j*symbolGroup:(j+1)*symbolGroup])
			}
		}
	}
	if c.tailLen > 0 {
		for j := 0; j < c.m; j++ {
			copy(ptail[:], tails[j*symbolGroup:])
			unpackTail(parity[j*c.bs+c.mainLen:(j+1)*c.bs], ptail[:])
		}
	}
}
