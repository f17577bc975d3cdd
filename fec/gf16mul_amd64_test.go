//go:build amd64 && !purego

package fec

// avx2MulXor runs the AVX2 kernel even where GFNI is preferred.
func avx2MulXor(out, in []byte, t *mulTable) { mulXorAVX2(out, in, &t.lut) }
