//go:build amd64

package fec

import "golang.org/x/sys/cpu"

// leopard16OK reports whether klauspost/reedsolomon's GF(2^16) coder runs on
// this CPU: v1.14.2 panics without SSSE3 (see cauchyParity).
var leopard16OK = cpu.X86.HasSSSE3 || cpu.X86.HasAVX2
