package mcast

import "github.com/discuscast/discus/mcast/wire"

// A receiver decides what to ask for from the packets it has processed; on a busy
// machine, or across a link's queue, a need can cross the very blocks that answer it.
// Serving it again costs a chunk's worth of duplicates for every receiver. Requests
// therefore carry the receiver's horizon (progress.seen: the sender's next sequence
// number as far as it knew), and the sender remembers, per chunk, its latest burst of
// blocks. A need is in flight when at least as many blocks of the chunk as it asks
// for were sent at or after the horizon: the receiver is still to see them. If they
// were lost it asks again after its timeout, with a newer horizon.

// burstGap: blocks of one chunk at most this many packets apart belong to one burst
// (a job's blocks interleave only with the side lane's).
const burstGap = 64

// burst is a run of blocks of one chunk: sequence numbers first..last, blocks in all.
type burst struct {
	first, last uint32
	blocks      uint32
	repairSent  uint32 // repair blocks sent in the chunk's current repair round
	repairStart int64  // when that round began (Unix ns)
}

func (b *burst) note(seq uint32) {
	if b.blocks == 0 || int32(seq-b.last) > burstGap {
		b.first, b.blocks = seq, 0
	}
	b.last = seq
	b.blocks++
}

// inFlight reports whether the blocks of n's chunk sent at or after seen cover n.
func (s *Sender) inFlight(n wire.Need, seen uint32) bool {
	if int(n.Chunk) >= len(s.bursts) {
		return false
	}
	b := &s.bursts[n.Chunk]
	if b.blocks == 0 || int32(b.last-seen) < 0 {
		return false // the receiver had seen all of the chunk's latest burst
	}
	after := b.blocks
	if int32(seen-b.first) > 0 {
		after = min(after, b.last-seen+1) // an upper bound: side packets interleave
	}
	want := n.Missing
	if want == 0 {
		want = uint32(s.kEstimate(n.Chunk))
	}
	return after >= want
}
