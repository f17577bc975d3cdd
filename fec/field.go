package fec

import (
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Scalar arithmetic in leopard's fields, for the systematic rebuild
// (rebuild.go). Leopard numbers field elements in a Cantor basis over the
// polynomial 0x1002D (GF(2^16)) or 0x11D (GF(2^8)); the tables below are
// built the same way as the library's, so a GF(2^16) product here equals
// reedsolomon.LowLevel.GF16Mul (a test checks every log), and the slice
// arithmetic is the library's own (LowLevel.GF16MulSliceXor*, GFNI or AVX2
// where the CPU has them). The library's GF(2^8) slice routines work in the
// polynomial basis instead: field.toStd maps leopard's GF(2^8) elements to
// it (a field isomorphism, checked by a test) and fromStd back.
type field struct {
	once    sync.Once
	mod     uint64     // order - 1
	log     []uint16   // by element
	exp     []uint16   // by log, for logs < 2*mod: sums of two logs need no reduction
	toStd   *[256]byte // GF(2^8) only: leopard element to polynomial basis
	fromStd *[256]byte
	cantor  []uint16   // element to polynomial basis
	bitLog  [16]uint16 // GF(2^16): log of the element 1<<b (mulTable.set)
}

// gf is GF(2^16) (384 KiB of tables, built in about 1 ms; Warm builds them
// with the library's), gf8 is GF(2^8).
var gf, gf8 field

// lowLevel reaches reedsolomon's slice routines.
var lowLevel reedsolomon.LowLevel

func gfInit() {
	gf.once.Do(func() {
		gf.build(16, 0x1002D, []uint16{
			0x0001, 0xACCA, 0x3C0E, 0x163E,
			0xC582, 0xED2E, 0x914C, 0x4012,
			0x6C98, 0x10D8, 0x6A72, 0xB900,
			0xFDB8, 0xFB34, 0xFF38, 0x991E,
		})
		for b := range gf.bitLog {
			gf.bitLog[b] = gf.log[1<<b]
		}
	})
}

func gf8Init() {
	gf8.once.Do(func() {
		gf8.build(8, 0x11D, []uint16{1, 214, 152, 146, 86, 200, 88, 230})
		gf8.toStd = new([256]byte)
		gf8.fromStd = new([256]byte)
		for x := range 256 {
			gf8.toStd[x] = byte(gf8.basis(x))
			gf8.fromStd[gf8.basis(x)] = byte(x)
		}
	})
}

// basis returns element x of leopard's representation in the polynomial
// basis: the Cantor combination of the bits of x (valid after build).
func (f *field) basis(x int) uint16 { return f.cantor[x] }

func (f *field) build(bits int, poly int, cantor []uint16) {
	order := 1 << bits
	f.mod = uint64(order - 1)
	f.log = make([]uint16, order)
	f.exp = make([]uint16, 2*(order-1))
	// stdLog[x] is the log of x in the polynomial basis.
	stdLog := make([]uint16, order)
	state := 1
	for i := range order - 1 {
		stdLog[state] = uint16(i)
		state <<= 1
		if state >= order {
			state ^= poly
		}
	}
	f.cantor = make([]uint16, order)
	for i := range bits {
		w := 1 << i
		for j := range w {
			f.cantor[j+w] = f.cantor[j] ^ cantor[i]
		}
	}
	for x := 1; x < order; x++ {
		l := stdLog[f.cantor[x]]
		f.log[x] = l
		f.exp[l] = uint16(x)
		f.exp[int(l)+order-1] = uint16(x)
	}
}

// invLog returns the log of 1/a (a != 0).
func (f *field) invLog(a uint16) uint64 { return (f.mod - uint64(f.log[a])) % f.mod }

// translate maps every byte of b through t.
func translate(b []byte, t *[256]byte) {
	for i, x := range b {
		b[i] = t[x]
	}
}

// elem returns the element of log l (any l; reduced here).
func (f *field) elem(l uint64) uint16 { return f.exp[l%f.mod] }

// cauchy is the structure of leopard's GF(2^16) code, which lets the decoder
// rebuild only the lost rows. With m = ceilPow2(M), leopard places parity
// block j at position j (< m) and data block i at position m+i; writing
// group(i) = (m+i)/m for the m-aligned group of positions holding data block
// i, parity block j is
//
//	p_j = sum over i of  c[group(i)] / ((m+i) xor j) * d_i
//
// a Cauchy matrix with one scale per group: encoding transforms each group to
// the coefficients of its interpolating polynomial over the subspace
// {0..m-1}'s coset and evaluates the sum on positions 0..m-1, and that
// Lagrange basis evaluates to c[g] / (x xor y) with c[g] = prod over w<m of
// (w xor g*m), divided by prod over 0<w<m of w. TestCauchyIsLeopard checks
// every coefficient against leopard's encoder.
type cauchy struct {
	f    *field
	m    int
	logC []uint64 // log c[g] by group
}

func newCauchy(f *field, k, mPar int) cauchy {
	m := ceilPow2(mPar)
	groups := (m + k + m - 1) / m
	cy := cauchy{f: f, m: m, logC: make([]uint64, groups)}
	var logD uint64
	for w := 1; w < m; w++ {
		logD += uint64(f.log[w])
	}
	for g := 1; g < groups; g++ {
		var logS uint64
		base := g * m
		for w := range m {
			logS += uint64(f.log[w^base])
		}
		cy.logC[g] = (logS + f.mod - logD%f.mod) % f.mod
	}
	return cy
}

// coefLog returns the log of the generator coefficient of data block i in
// parity block j.
func (cy cauchy) coefLog(j, i int) uint64 {
	pos := cy.m + i
	return (cy.logC[pos/cy.m] + cy.f.invLog(uint16(pos^j))) % cy.f.mod
}

// inverse returns the inverse of the e×e matrix H[a][b] = coefficient of data
// block lost[b] in parity block par[a], as inv[b*e+a] (element values). H is
// a Cauchy matrix C[a][b] = 1/(x_a xor y_b) (x = parity positions, y = data
// positions) times diag(c), so its inverse has the closed form
//
//	inv[b][a] = alpha_a * beta_b / (c_b * (x_a xor y_b))
//	alpha_a = prod_k (x_a xor y_k) / prod_{k!=a} (x_a xor x_k)
//	beta_b  = prod_k (x_k xor y_b) / prod_{k!=b} (y_b xor y_k)
//
// and costs O(e^2).
func (cy cauchy) inverse(par, lost []int, inv []uint16) {
	e := len(lost)
	f := cy.f
	mod := f.mod
	alpha := make([]uint64, e)
	beta := make([]uint64, e)
	for a, j := range par {
		var num, den uint64
		for _, i := range lost {
			num += uint64(f.log[(cy.m+i)^j])
		}
		for k, j2 := range par {
			if k != a {
				den += uint64(f.log[j^j2])
			}
		}
		alpha[a] = (num + mod*uint64(e) - den) % mod
	}
	for b, i := range lost {
		y := cy.m + i
		var num, den uint64
		for _, j := range par {
			num += uint64(f.log[j^y])
		}
		for k, i2 := range lost {
			if k != b {
				den += uint64(f.log[y^(cy.m+i2)])
			}
		}
		den += cy.logC[y/cy.m]
		beta[b] = (num + mod*uint64(e+1) - den) % mod
	}
	for b, i := range lost {
		y := cy.m + i
		for a, j := range par {
			l := alpha[a] + beta[b] + mod - uint64(f.log[j^y])
			inv[b*e+a] = f.elem(l)
		}
	}
}
