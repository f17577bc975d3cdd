package fec

import "sync"

// buffers recycles Decoder data buffers. Their contents are not cleared:
// the decoder overwrites every byte it later reads (see Add and spread).
var buffers sync.Pool

func getBuffer(n int) []byte {
	if p, ok := buffers.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

func putBuffer(b []byte) {
	if cap(b) > 0 {
		buffers.Put(&b)
	}
}
