package fec

import (
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Scalar GF(2^16) arithmetic in leopard's representation, for the systematic
// rebuild (rebuild.go). Leopard numbers field elements in a Cantor basis
// over the polynomial 0x1002D; the tables below are built the same way as
// the library's, so a product here equals reedsolomon.LowLevel.GF16Mul (a
// test checks every log), and the slice arithmetic is the library's own
// (LowLevel.GF16MulSliceXor*, GFNI or AVX2 where the CPU has them).
const gfModulus = fieldOrder - 1

// gf holds the log and exp tables (384 KiB, built in about 1 ms on first use;
// Warm builds them with the library's tables).
var gf struct {
	once sync.Once
	log  [fieldOrder]uint16
	exp  [2 * gfModulus]uint16 // exp[l] for l < 2*modulus: sums of two logs need no reduction
}

// lowLevel reaches reedsolomon's GF(2^16) slice routines.
var lowLevel reedsolomon.LowLevel

func gfInit() {
	gf.once.Do(func() {
		cantor := [16]uint16{
			0x0001, 0xACCA, 0x3C0E, 0x163E,
			0xC582, 0xED2E, 0x914C, 0x4012,
			0x6C98, 0x10D8, 0x6A72, 0xB900,
			0xFDB8, 0xFB34, 0xFF38, 0x991E,
		}
		// stdLog[x] is the log of x in the polynomial basis.
		stdLog := make([]uint16, fieldOrder)
		state := 1
		for i := range gfModulus {
			stdLog[state] = uint16(i)
			state <<= 1
			if state >= fieldOrder {
				state ^= 0x1002D
			}
		}
		// Element x of leopard's representation is the Cantor combination of
		// the bits of x.
		var basis [fieldOrder]uint16
		for i := range 16 {
			w := 1 << i
			for j := range w {
				basis[j+w] = basis[j] ^ cantor[i]
			}
		}
		for x := 1; x < fieldOrder; x++ {
			l := stdLog[basis[x]]
			gf.log[x] = l
			gf.exp[l] = uint16(x)
			gf.exp[int(l)+gfModulus] = uint16(x)
		}
	})
}

// gfInv returns 1/a (a != 0) as a log.
func gfInvLog(a uint16) uint32 { return (gfModulus - uint32(gf.log[a])) % gfModulus }

// gfExp returns the element of log l (any l; reduced here).
func gfExp(l uint64) uint16 { return gf.exp[l%gfModulus] }

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
	m    int
	logC []uint32 // log c[g] by group
}

func newCauchy(k, mPar int) cauchy {
	gfInit()
	m := ceilPow2(mPar)
	groups := (m + k + m - 1) / m
	cy := cauchy{m: m, logC: make([]uint32, groups)}
	var logD uint64
	for w := 1; w < m; w++ {
		logD += uint64(gf.log[w])
	}
	for g := 1; g < groups; g++ {
		var logS uint64
		base := g * m
		for w := range m {
			logS += uint64(gf.log[w^base])
		}
		cy.logC[g] = uint32((logS + gfModulus - logD%gfModulus) % gfModulus)
	}
	return cy
}

// coef returns the generator coefficient of data block i in parity block j
// as a log.
func (cy cauchy) coefLog(j, i int) uint32 {
	pos := cy.m + i
	return (cy.logC[pos/cy.m] + gfInvLog(uint16(pos^j))) % gfModulus
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
	alpha := make([]uint64, e)
	beta := make([]uint64, e)
	for a, j := range par {
		var num, den uint64
		for _, i := range lost {
			num += uint64(gf.log[(cy.m+i)^j])
		}
		for k, j2 := range par {
			if k != a {
				den += uint64(gf.log[j^j2])
			}
		}
		alpha[a] = (num + gfModulus*uint64(e) - den) % gfModulus
	}
	for b, i := range lost {
		y := cy.m + i
		var num, den uint64
		for _, j := range par {
			num += uint64(gf.log[j^y])
		}
		for k, i2 := range lost {
			if k != b {
				den += uint64(gf.log[y^(cy.m+i2)])
			}
		}
		den += uint64(cy.logC[y/cy.m])
		beta[b] = (num + gfModulus*uint64(e+1) - den) % gfModulus
	}
	for b, i := range lost {
		y := cy.m + i
		for a, j := range par {
			l := alpha[a] + beta[b] + gfModulus - uint64(gf.log[j^y])
			inv[b*e+a] = gfExp(l)
		}
	}
}
