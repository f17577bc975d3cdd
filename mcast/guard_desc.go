package mcast

import (
	"encoding/binary"
	"hash/fnv"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// Announces that disagree with the session (or that the session layer refused) are
// remembered per (node, description), a few at a time: one that the same node repeats
// persistently, with nothing agreeing heard meanwhile, is the sender's word, not a
// stray packet (docs/PROTOCOL.md §3 item 1).
const (
	persistCount = 5                  // announces of the same description
	persistTime  = int64(time.Second) // over at least this long
	maxDescs     = 4                  // descriptions remembered at once
)

type descEntry struct {
	node  uint64
	hash  uint64
	first int64
	count int
	err   error // the session layer's refusal, if it refused
}

func (e *descEntry) persistent(t int64) bool {
	return e.count >= persistCount && t-e.first >= persistTime
}

type descTracker struct {
	e []descEntry
}

func (d *descTracker) find(node, hash uint64) *descEntry {
	for i := range d.e {
		if d.e[i].node == node && d.e[i].hash == hash {
			return &d.e[i]
		}
	}
	return nil
}

// observe counts one more announce of (node, hash) and returns its entry.
func (d *descTracker) observe(node, hash uint64, t int64) *descEntry {
	if e := d.find(node, hash); e != nil {
		e.count++
		return e
	}
	if len(d.e) >= maxDescs {
		old := 0
		for i := range d.e {
			if d.e[i].first < d.e[old].first {
				old = i
			}
		}
		d.e = append(d.e[:old], d.e[old+1:]...)
	}
	d.e = append(d.e, descEntry{node: node, hash: hash, first: t, count: 1})
	return &d.e[len(d.e)-1]
}

// agree forgets every disagreeing description: an acceptable announce was heard.
func (d *descTracker) agree() { d.e = d.e[:0] }

// descHash identifies what an announce says about the session (not its soft state:
// rate, members, loss, seq).
func descHash(a *wire.Announce) uint64 {
	h := fnv.New64a()
	var b [17]byte
	binary.BigEndian.PutUint32(b[0:], a.Chunks)
	binary.BigEndian.PutUint32(b[4:], a.MaxChunk)
	binary.BigEndian.PutUint32(b[8:], a.BlockSize)
	binary.BigEndian.PutUint32(b[12:], a.MaxParity)
	if a.Final {
		b[16] = 1
	}
	h.Write(b[:])
	h.Write(a.Meta)
	return h.Sum64()
}
