package fec

import (
	"sync"
	"sync/atomic"
)

// GF(2^16) codes (chunks of more than about 200 blocks) need tables that take
// ~0.3 CPU seconds and ~74 MiB to build, once per process. A receiver that never
// loses a packet never needs them, so they are built on demand, in the background,
// and a caller that must not stall (a receive loop) asks Ready before rebuilding.
var tables struct {
	once  sync.Once
	ready atomic.Bool // Warm is done
	lib   atomic.Bool // the library's tables are built: decoders may use leopard
}

// Warm starts building the GF(2^16) tables on a goroutine of their own, if that has
// not begun yet, and reports whether they are built. It is cheap to call often.
func Warm() (ready bool) {
	if tables.ready.Load() {
		return true
	}
	tables.once.Do(func() { go buildTables() })
	return tables.ready.Load()
}

func buildTables() {
	// The smallest code that needs the large field; encoding one parity block fills
	// every table the encoder and the decoder use.
	const k = 256
	if !leopard16OK {
		gfInit()
		tables.ready.Store(true)
		return
	}
	if e, err := NewEncoder(Params{BlockSize: symbolGroup, MaxParity: 1}, make([]byte, k*symbolGroup)); err == nil {
		_, _ = e.Block(e.K())
	}
	gfInit() // the systematic rebuild's scalar tables
	tables.lib.Store(true)
	tables.ready.Store(true)
}

// Ready reports whether Bytes can return without building the library's
// GF(2^16) tables. It is always true now: without those tables a decoder
// rebuilds through fec's own arithmetic (gf16mul.go), whose 384 KiB of scalar
// tables take about a millisecond on first use. It stays for callers written
// against the old contract (package mcast holds complete chunks until Ready).
func (d *Decoder) Ready() bool { return true }

// NeedsTables reports whether the code for chunks of k blocks is over GF(2^16), whose
// tables Warm builds.
func (p Params) NeedsTables(k int) bool { return !fitsField(k, p.Parity(k), 1<<8) }
