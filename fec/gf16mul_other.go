//go:build !amd64 || purego

package fec

const hasAVX2, hasGFNI = false, false

func mulXor(t *mulTable, in, out []byte) { mulXorGo(t, in, out) }

func ifftButterfly(t *mulTable, x, y []byte) { ifftButterflyGo(t, x, y) }

func fftButterfly(t *mulTable, x, y []byte) { fftButterflyGo(t, x, y) }
