package session

import (
	"context"
	"errors"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/mcast/wire"
)

// A sender that gives up tells its receivers (docs/PROTOCOL.md §1.9): Send puts the
// Sender into abort for mcast.AbortTime before it returns, so receivers end at once
// (exit 6 for a corrupt image, 5 otherwise) instead of waiting out their timeout.

// abortFor is the abort a failure of Send's own turns into on the wire.
func abortFor(err error) (wire.AbortReason, uint32) {
	chunk := uint32(wire.NoChunk)
	var ce *image.ChunkError
	if errors.As(err, &ce) && ce.Index >= 0 {
		chunk = uint32(ce.Index)
	}
	switch {
	case errors.Is(err, image.ErrCorrupt), errors.Is(err, image.ErrTruncated):
		return wire.AbortCorrupt, chunk
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wire.AbortStopped, wire.NoChunk
	}
	return wire.AbortSource, chunk
}

// sayAbort keeps the sender (m: s on the wire, the session's one framer) sending its
// abort for mcast.AbortTime on tr, after the
// session's own loop ended (stopped by ctx, or failed). ctx is not consulted: the
// abort is the last word of a sender that was told to stop.
func sayAbort(tr transport.Transport, s *mcast.Sender, m mcast.Machine, reason wire.AbortReason, chunk uint32) {
	s.Abort(reason, chunk)
	until := time.Now().Add(mcast.AbortTime)
	_ = transport.Drive(context.Background(), tr, m, func() (bool, error) {
		return !time.Now().Before(until), nil
	})
}

// ErrSenderGaveUp: the sender said it gave up (an abort packet). The error also
// matches image.ErrCorrupt when the sender found its image corrupt, ErrSenderLost
// otherwise, so exit codes follow (6, 5).
var ErrSenderGaveUp = errors.New("the sender gave up")

type gaveUp struct{ ae *mcast.AbortError }

func (g gaveUp) Error() string { return g.ae.Error() }

func (g gaveUp) Unwrap() []error {
	if g.ae.Reason == wire.AbortCorrupt {
		return []error{ErrSenderGaveUp, g.ae, image.ErrCorrupt}
	}
	return []error{ErrSenderGaveUp, g.ae, ErrSenderLost}
}

// senderGaveUp turns the receiver's *mcast.AbortError into the session's error.
func senderGaveUp(err error) error {
	var ae *mcast.AbortError
	if errors.As(err, &ae) {
		if _, done := err.(gaveUp); !done {
			return gaveUp{ae}
		}
	}
	return err
}
