package mcast

import "time"

// Hold tells the receiver that the consumer already holds chunk i (a receiver
// that found it on its target by hashing, before or while joining): it is done
// without being received, never requested, and blocks of it that arrive are
// duplicates. It may be called any time after joining, from the goroutine that
// drives the receiver. It returns false, and changes nothing, if i is out of
// range, already done, or complete and out for delivery (that delivery settles
// it). Held chunks count in ReceiverStats.ChunksDone and ChunksHeld, not in
// Bytes. docs/PROTOCOL.md §3, "Chunks held at join".
func (r *Receiver) Hold(i int, now time.Time) bool {
	if !r.joined || i < 0 || i >= r.done.len() || r.done.get(i) {
		return false
	}
	c := uint32(i)
	if p := r.byChunk[c]; p != nil {
		if p.out {
			return false
		}
		r.removePartial(p)
	}
	r.done.set(i)
	r.due.del(c)
	r.cover.del(c)
	r.nDone++
	r.stats.ChunksHeld++
	r.dirty = true
	r.checkComplete(r.ns(now))
	return true
}

// AwaitHeld, while on, makes the receiver ask only for the session's lead chunks (and
// repairs of chunks it has begun): its consumer is finding out which chunks it holds
// already (Hold), and whole-chunk requests meanwhile would fetch chunks it holds — a
// restarted or base-holding receiver's requests during its target's hashing made the
// sender send up to a third more than the increment (session TestIncrementalSession).
// The consumer must clear it once it knows, whatever the outcome.
func (r *Receiver) AwaitHeld(on bool) {
	if r.awaitHeld != on {
		r.awaitHeld = on
		r.dirty = true
	}
}
