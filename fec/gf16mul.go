package fec

import "math/bits"

// Block arithmetic in leopard's GF(2^16) without the library's tables.
//
// reedsolomon's GF(2^16) slice routines (LowLevel.GF16MulSliceXor and
// everything leopard's GF(2^16) coder does) first build product tables for
// all 65536 multipliers: 64 MiB for the pure-Go path, 8 MiB for PSHUFB, 2
// MiB for GFNI, 74 MiB in all, whatever the CPU uses. A receiver only ever
// multiplies by the few thousand coefficients of the blocks it rebuilds, so
// it builds each multiplier's 128-byte table on the spot from the scalar
// tables of field.go (384 KiB) instead: mulTable.set costs about as much as
// multiplying 64 bytes, and one table serves a whole block.

// mulTable holds what the slice routines need to multiply by one GF(2^16)
// constant c: the GFNI affine matrices on CPUs with GFNI (on the
// development machine VPSHUFB runs at a quarter of GFNI's speed), else the
// PSHUFB nibble tables of leopard's layout, which the portable loop also
// expands from.
type mulTable struct {
	// lut: for nibble n of a symbol (n = 0, 1 in its low byte, 2, 3 in its
	// high byte) and x < 16, lut[n*16+x] is the low byte of c*(x<<4n) and
	// lut[64+n*16+x] its high byte.
	lut [128]byte
	// aff: the 8×8 bit matrices [A B; C D] of leopard's GFNI routines, with
	// out_lo = A·in_lo + B·in_hi and out_hi = C·in_lo + D·in_hi.
	aff [4]uint64
}

// set fills t for the constant c (c != 0). Products are linear in the
// multiplicand, so the 16 scalar products c*(1<<b) give the rest.
func (t *mulTable) set(c uint16) {
	if hasGFNI {
		t.setAff(c)
	} else {
		t.setLUT(c)
	}
}

// products returns c*(1<<b) for b < 16.
func products(c uint16) (p [16]uint16) {
	gfInit()
	exp := gf.exp[:2*logMod]
	lc := int(gf.log[c])
	for b, l := range gf.bitLog {
		p[b] = exp[lc+int(l)]
	}
	return p
}

func (t *mulTable) setAff(c uint16) {
	p := products(c)
	{
		// Row b of a matrix (byte 7-o holds output bit o's inputs): transpose
		// the products' bytes and reverse the byte order.
		var lo0, hi0, lo1, hi1 uint64
		for b := range 8 {
			lo0 |= uint64(byte(p[b])) << (8 * b)
			hi0 |= uint64(p[b]>>8) << (8 * b)
			lo1 |= uint64(byte(p[8+b])) << (8 * b)
			hi1 |= uint64(p[8+b]>>8) << (8 * b)
		}
		t.aff = [4]uint64{affine(lo0), affine(lo1), affine(hi0), affine(hi1)}
	}
}

func (t *mulTable) setLUT(c uint16) {
	p := products(c)
	for n := range 4 {
		b0, b1, b2, b3 := p[4*n], p[4*n+1], p[4*n+2], p[4*n+3]
		q := [16]uint16{
			0, b0, b1, b1 ^ b0,
			b2, b2 ^ b0, b2 ^ b1, b2 ^ b1 ^ b0,
		}
		for x := range 8 {
			q[8+x] = q[x] ^ b3
		}
		lo := (*[16]byte)(t.lut[n*16 : n*16+16])
		hi := (*[16]byte)(t.lut[64+n*16 : 64+n*16+16])
		for x, v := range q {
			lo[x] = byte(v)
			hi[x] = byte(v >> 8)
		}
	}
}

// affine turns rows (byte i: the output bits of input bit i) into a GFNI
// matrix (byte 7-o: the input bits of output bit o).
func affine(rows uint64) uint64 {
	// 8×8 bit transpose (Hacker's Delight 7-3), then byte reversal.
	x := rows
	t := (x ^ x>>7) & 0x00AA00AA00AA00AA
	x ^= t ^ t<<7
	t = (x ^ x>>14) & 0x0000CCCC0000CCCC
	x ^= t ^ t<<14
	t = (x ^ x>>28) & 0x00000000F0F0F0F0
	x ^= t ^ t<<28
	return bits.ReverseBytes64(x)
}

// mulXorSlice computes out ^= c*in over symbols in leopard's layout (64-byte
// groups: 32 low bytes, then 32 high bytes); len(in) == len(out), a multiple
// of 64.
func mulXorSlice(c uint16, in, out []byte) {
	if c == 0 || len(in) == 0 {
		return
	}
	var t mulTable
	t.set(c)
	mulXor(&t, in, out)
}

// mulXorGo is the portable mulXor: two 256-entry tables of 16-bit products,
// one per byte of a symbol, expanded from t.lut (so only where !hasGFNI).
func mulXorGo(t *mulTable, in, out []byte) {
	var lo, hi [256]uint16
	for x := range 256 {
		a, b := x&15, x>>4
		lo[x] = uint16(t.lut[a]^t.lut[16+b]) | uint16(t.lut[64+a]^t.lut[80+b])<<8
		hi[x] = uint16(t.lut[32+a]^t.lut[48+b]) | uint16(t.lut[96+a]^t.lut[112+b])<<8
	}
	out = out[:len(in)]
	for len(in) >= symbolGroup {
		i0, o0 := in[:32:32], out[:32:32]
		i1, o1 := in[32:64:64], out[32:64:64]
		for i := range 32 {
			p := lo[i0[i]] ^ hi[i1[i]]
			o0[i] ^= byte(p)
			o1[i] ^= byte(p >> 8)
		}
		in, out = in[symbolGroup:], out[symbolGroup:]
	}
}
