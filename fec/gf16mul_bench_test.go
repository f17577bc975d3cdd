package fec

import "testing"

func BenchmarkMulXor(b *testing.B) {
	in, out := make([]byte, 1344), make([]byte, 1344)
	var t mulTable
	t.set(12345)
	b.SetBytes(1344)
	for b.Loop() {
		mulXor(&t, in, out)
	}
}

func BenchmarkMulTableSet(b *testing.B) {
	var t mulTable
	c := uint16(1)
	for b.Loop() {
		t.set(c)
		c = c*3 + 1 | 1
	}
}

func BenchmarkLibMulXor(b *testing.B) {
	in, out := make([]byte, 1344), make([]byte, 1344)
	lowLevel.GF16MulSliceXor(12345, in, out)
	b.SetBytes(1344)
	for b.Loop() {
		lowLevel.GF16MulSliceXor(12345, in, out)
	}
}
