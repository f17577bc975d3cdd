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
	ready atomic.Bool
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
	if e, err := NewEncoder(Params{BlockSize: symbolGroup, MaxParity: 1}, make([]byte, k*symbolGroup)); err == nil {
		_, _ = e.Block(e.K())
	}
	gfInit() // the systematic rebuild's scalar tables
	tables.ready.Store(true)
}

// Ready reports whether Bytes can return without building the GF(2^16) tables:
// nothing is left to rebuild, the code is over GF(2^8), or the tables are built.
// It does not start building them (Warm does).
func (d *Decoder) Ready() bool {
	return d.solved || !d.complete() || d.c.small() || tables.ready.Load()
}

// NeedsTables reports whether the code for chunks of k blocks is over GF(2^16), whose
// tables Warm builds.
func (p Params) NeedsTables(k int) bool { return !fitsField(k, p.Parity(k), 1<<8) }
