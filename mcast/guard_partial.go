package mcast

import (
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/wire"
)

// rivalGeom is the most heard other geometry (chunk length, and before joining block
// size and maxParity) blocks claimed for a partial chunk, and how many did.
type rivalGeom struct {
	chunkLen  uint32
	maxParity uint16
	bs        int
	n         int
}

// rival counts a block whose geometry differs from partial p's. The first block heard
// never decides a chunk's length for good: once the rival geometry was heard more often
// than p holds distinct blocks, p restarts with it (the blocks held are dropped: the
// rival's are what the sender keeps sending). It reports whether p now takes d.
func (r *Receiver) rival(p *partial, d *wire.Data, t int64) bool {
	if !countRival(&p.alt, d) {
		return false
	}
	a := &p.alt
	if a.n <= p.dec.Have() || p.held {
		return false
	}
	dec, err := fec.NewDecoder(fec.Params{BlockSize: a.bs, MaxParity: int(a.maxParity)}, int(a.chunkLen))
	if err != nil {
		return false
	}
	r.stats.LenSwitches++
	r.log.Warn("mcast: chunk restarted with the length most blocks claim", "chunk", p.chunk,
		"was", p.chunkLen, "now", a.chunkLen, "held", p.dec.Have())
	p.dec.Release()
	p.dec, p.chunkLen, p.maxParity, p.bs = dec, a.chunkLen, a.maxParity, a.bs
	p.alt = rivalGeom{}
	p.nextParity, p.sampling, p.due, p.grew = 0, false, 0, t
	r.dirty = true
	return true
}

// countRival counts d's geometry in a's slot; false if it wore the rival down instead.
// A chunk out for delivery counts too (its decoder untouched), so the blocks heard
// meanwhile still speak when it comes back rejected.
func countRival(a *rivalGeom, d *wire.Data) bool {
	if a.n > 0 && a.chunkLen == d.ChunkLen && a.maxParity == d.MaxParity && a.bs == len(d.Payload) {
		a.n++
	} else if a.n <= 1 {
		*a = rivalGeom{chunkLen: d.ChunkLen, maxParity: d.MaxParity, bs: len(d.Payload), n: 1}
	} else {
		a.n-- // a third geometry wears the rival down rather than replacing it
		return false
	}
	return true
}

// evictStalled makes room for a new partial chunk: the partial that has gone longest
// without a new block goes, if it stopped progressing: a chunk of at most two blocks
// after 4 gaps (forged or stray blocks must not hold a slot), any other after
// evictAge. It reports whether one went.
func (r *Receiver) evictStalled(t int64) bool {
	var victim *partial
	for _, p := range r.partials {
		if !p.held && !p.out && (victim == nil || p.grew < victim.grew) {
			victim = p
		}
	}
	if victim == nil {
		return false
	}
	age := r.evictAge(victim)
	if victim.dec.Have() <= 2 {
		age = min(age, 4*r.gap())
	}
	if t-victim.grew < age {
		return false
	}
	r.stats.Evicted++
	r.log.Debug("mcast: partial chunk evicted", "chunk", victim.chunk, "held", victim.dec.Have(), "idle", time.Duration(t-victim.grew))
	r.removePartial(victim)
	return true
}

// evictAge is how long a partial chunk may go without a new block before it may be
// evicted: two repair timeouts for what it misses, at least 4 request windows, at most
// maxEvictAge.
func (r *Receiver) evictAge(p *partial) int64 {
	return min(max(2*r.rtoPartial(p.dec.Missing()), 4*r.suppressWindow()), maxEvictAge)
}

const maxEvictAge = int64(10 * time.Second)
