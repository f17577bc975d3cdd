//go:build amd64 && !purego

package fec

import "golang.org/x/sys/cpu"

// The slice routines: GFNI where the CPU has it (with AVX), else AVX2
// (PSHUFB), else the portable loops (e.g. qemu's default qemu64 CPU). The
// assembly is klauspost/reedsolomon's (MIT licence), fed with our tables
// instead of the library's global ones.
var (
	hasGFNI = cpu.X86.HasAVX512GFNI && cpu.X86.HasAVX
	hasAVX2 = cpu.X86.HasAVX2
)

// All take len(x) == len(y), a non-zero multiple of 64.
//
//go:noescape
func mulXorAVX2(x, y []byte, t *[128]byte) // x ^= c*y

//go:noescape
func ifftAVX2(x, y []byte, t *[128]byte) // y ^= x; x ^= c*y

//go:noescape
func fftAVX2(x, y []byte, t *[128]byte) // x ^= c*y; y ^= x

//go:noescape
func mulXorGFNI(x, y []byte, t *[4]uint64)

//go:noescape
func ifftGFNI(x, y []byte, t *[4]uint64)

//go:noescape
func fftGFNI(x, y []byte, t *[4]uint64)

// mulXor computes out ^= c*in (t the table of c).
func mulXor(t *mulTable, in, out []byte) {
	switch n := len(in); {
	case n == 0:
	case hasGFNI:
		mulXorGFNI(out[:n], in, &t.aff)
	case hasAVX2:
		mulXorAVX2(out[:n], in, &t.lut)
	default:
		mulXorGo(t, in, out)
	}
}

func ifftButterfly(t *mulTable, x, y []byte) {
	switch n := len(x); {
	case n == 0:
	case hasGFNI:
		ifftGFNI(x, y[:n], &t.aff)
	case hasAVX2:
		ifftAVX2(x, y[:n], &t.lut)
	default:
		ifftButterflyGo(t, x, y)
	}
}

func fftButterfly(t *mulTable, x, y []byte) {
	switch n := len(x); {
	case n == 0:
	case hasGFNI:
		fftGFNI(x, y[:n], &t.aff)
	case hasAVX2:
		fftAVX2(x, y[:n], &t.lut)
	default:
		fftButterflyGo(t, x, y)
	}
}
