//go:build !amd64 || purego

package fec

func avx2MulXor(out, in []byte, t *mulTable) { mulXorGo(t, in, out) }
