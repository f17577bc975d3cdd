package mcast

import (
	"errors"
	"fmt"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// ErrAborted: the sender gave up and said so (an abort packet, docs/PROTOCOL.md §1.9).
// Receiver.Err returns it as an *AbortError.
var ErrAborted = errors.New("mcast: the sender gave up")

// AbortError is the sender's last word as the receiver believed it.
type AbortError struct {
	Sender uint64
	Reason wire.AbortReason
	Chunk  uint32 // the chunk that failed, or wire.NoChunk
}

func (e *AbortError) Error() string {
	if e.Chunk != wire.NoChunk {
		return fmt.Sprintf("the sender gave up: %v (chunk %d)", e.Reason, e.Chunk)
	}
	return fmt.Sprintf("the sender gave up: %v", e.Reason)
}

func (e *AbortError) Is(target error) bool { return target == ErrAborted }

// abortSeen tracks a keyless sender's aborts. Anybody can send one, and one packet must
// not end a transfer for good (§3 item 1): the abort counts once the sender this
// receiver follows repeated it persistently (persistCount over persistTime, the same
// reason, none more than abortGap apart) with no announce or data of its own meanwhile. A running sender announces
// every 200 ms, so a forger cannot end a live session this way; a sender that gave up
// sends nothing else.
type abortSeen struct {
	node   uint64
	reason wire.AbortReason
	first  int64
	last   int64
	count  int
}

// abortGap: aborts further apart than this are not one persistent word (the sender
// repeats its abort every 50 ms).
const abortGap = int64(500 * time.Millisecond)

func (r *Receiver) onAbort(h wire.Header, a *wire.Abort, t int64) {
	if h.Node != r.info.Sender {
		r.drop(wire.DropConflict) // not the sender we follow: its word is not ours
		return
	}
	if r.Complete() {
		return // every chunk is verified here: nothing to give up
	}
	r.heardSender()
	if r.cfg.Key == nil {
		s := &r.aborts
		if s.node != h.Node || s.reason != a.Reason || s.count == 0 || t-s.last > abortGap {
			*s = abortSeen{node: h.Node, reason: a.Reason, first: t}
		}
		s.last = t
		if s.count++; s.count < persistCount || t-s.first < persistTime {
			return
		}
	}
	// With a key the trailer proved the sender we follow sent it, in this run (§1.8).
	r.fail(&AbortError{Sender: h.Node, Reason: a.Reason, Chunk: a.Chunk})
}

// senderAlive forgets the aborts of a sender that announces or sends data again.
func (r *Receiver) senderAlive(node uint64) {
	if r.aborts.node == node {
		r.aborts.count = 0
	}
}
