package mcast

import (
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// abortEvery spaces a giving-up sender's abort packets: a keyless receiver believes
// them after persistCount over persistTime (receiver_abort.go), so AbortTime of them
// carries the word through a lossy path.
const abortEvery = 50 * time.Millisecond

// AbortTime is how long a sender that gave up should keep sending its abort (calling
// Poll) before it stops for good: long enough for a keyless receiver's persistence
// rule (5 over 1 s) with loss on the way.
const AbortTime = 1500 * time.Millisecond

// Abort makes the sender give up: from now on Poll sends only abort packets with
// reason and the failed chunk (wire.NoChunk if none), every 50 ms, and no data,
// announce or ack. Receivers following it end at once (keyed) or after about a second
// of it (keyless) instead of waiting out their receive timeout. It cannot be undone.
func (s *Sender) Abort(reason wire.AbortReason, chunk uint32) {
	if s.abort != nil {
		return
	}
	s.abort = &wire.Abort{Reason: reason, Chunk: chunk}
	s.paused = true
}

// Aborted reports whether Abort was called.
func (s *Sender) Aborted() bool { return s.abort != nil }

func (s *Sender) pollAbort(now time.Time, emit func([]byte)) time.Time {
	if now.Before(s.nextAbort) {
		return s.nextAbort
	}
	s.buf = wire.AppendAbort(s.buf[:0], s.hdr, s.abort)
	s.stats.Aborts++
	s.send(s.buf, emit)
	s.nextAbort = now.Add(abortEvery)
	return s.nextAbort
}
