package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/discuscast/discus/mcast"
)

// A keyed receiver's node ID is fresh every run (its welcome rests on that: a recording
// cannot answer the hello of an ID that did not exist), so a receiver killed and started
// again on the same target would look to the sender like one receiver lost and another
// new, and mcsend would end with exit 5 although every disk ended right (issue 12). Its
// reports carry an alias instead (mcast.ReceiverConfig.Alias, docs/PROTOCOL.md §1.5),
// stable across its runs: the sender takes a later receiver with the same alias for the
// earlier one started again, and forgets the earlier one (neither lost nor waited for).

// keyedAlias derives a keyed receiver's alias from what stableNodeID uses (its host and
// target), keyed with the group key so that a listener without it cannot link the
// alias to a machine. It returns 0 (no alias) when the target cannot be identified.
func keyedAlias(target any, key []byte) uint64 {
	id := stableNodeID(target)
	if id == 0 {
		return 0
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("discus receiver alias\x00"))
	m.Write(binary.LittleEndian.AppendUint64(nil, id))
	a := binary.LittleEndian.Uint64(m.Sum(nil))
	if a == 0 {
		a = 1
	}
	return a
}

// current drops from rs the receivers that were started again: an incomplete receiver
// with an alias is replaced by a receiver with the same alias first heard after it.
// A forger could do the same with a done report in the receiver's own name, so the alias
// gives nobody a power it did not have (docs/SECURITY.md).
func current(rs []mcast.ReceiverInfo) []mcast.ReceiverInfo {
	var latest map[uint64]int // alias -> index of the receiver first heard last
	for i, r := range rs {
		if r.Alias == 0 {
			continue
		}
		if latest == nil {
			latest = map[uint64]int{}
		}
		if j, ok := latest[r.Alias]; !ok || r.FirstHeard.After(rs[j].FirstHeard) {
			latest[r.Alias] = i
		}
	}
	if latest == nil {
		return rs
	}
	out := rs[:0:0]
	for i, r := range rs {
		if r.Alias != 0 && !r.Done && latest[r.Alias] != i {
			continue // started again: the later one is this receiver now
		}
		out = append(out, r)
	}
	return out
}
