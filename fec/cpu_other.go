//go:build !amd64

package fec

// leopard16OK: the library's GF(2^16) bug is in its amd64 code only.
var leopard16OK = true
