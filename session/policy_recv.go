package session

import (
	"fmt"
	"time"
)

// recvPolicy is ReceiveImage's session policy without a socket or a clock: when a
// receiver gives up on a sender it never heard (StartTimeout) or that fell silent
// (ReceiveTimeout), and how long a complete receiver waits for the sender's
// acknowledgement (ackGrace). The loop, a simulated network or a test steps it with
// the time and the receiver's counters.
type recvPolicy struct {
	start          time.Time
	startTimeout   time.Duration
	receiveTimeout time.Duration
	grace          time.Duration

	lastRx, lastHeard     uint64
	lastRxAt, lastHeardAt time.Time
	completeAt            time.Time
}

// recvView is what one step of the policy looks at.
type recvView struct {
	Joined   bool   // a session was joined (the image header accepted)
	Done     bool   // complete and acknowledged by the sender
	Complete bool   // every chunk delivered
	Blocks   uint64 // data blocks heard (new and duplicate)
	// Waiting: the receiver expects blocks from the sender (mcast.Receiver.Waiting).
	// While it does not (every chunk it lacks is complete and waits for the disk), the
	// absence of data is no sign of a lost sender and its clock stands still.
	Waiting bool
	Heard   uint64 // packets heard from the sender (any type)
}

// recvStep is one step's outcome.
type recvStep struct {
	End   bool
	Acked bool  // ended with the sender's acknowledgement
	Err   error // nil = success (when End)
}

func newRecvPolicy(startTimeout, receiveTimeout time.Duration, start time.Time) *recvPolicy {
	return &recvPolicy{
		start: start, startTimeout: startTimeout, receiveTimeout: receiveTimeout, grace: ackGrace,
		lastRxAt: start, lastHeardAt: start,
	}
}

// Step applies the policy at now; next is when the outcome can change without new
// input.
func (p *recvPolicy) Step(now time.Time, v recvView) (st recvStep, next time.Time) {
	if v.Blocks != p.lastRx {
		p.lastRx, p.lastRxAt = v.Blocks, now
	} else if !v.Waiting {
		p.lastRxAt = now
	}
	if v.Heard != p.lastHeard {
		p.lastHeard, p.lastHeardAt = v.Heard, now
	}
	next = now.Add(time.Hour)
	at := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	rt := p.receiveTimeout
	switch {
	case v.Done:
		return recvStep{End: true, Acked: true}, now
	case v.Complete:
		if p.completeAt.IsZero() {
			p.completeAt = now
		}
		if now.Sub(p.completeAt) >= p.grace {
			return recvStep{End: true}, now
		}
		at(p.completeAt.Add(p.grace))
		return st, next
	case !v.Joined && p.startTimeout > 0 && now.Sub(p.start) >= p.startTimeout:
		return recvStep{End: true, Err: fmt.Errorf("%w: no sender heard within %v", ErrStartTimeout, p.startTimeout)}, now
	case p.lastRx > 0 && rt > 0 && now.Sub(p.lastRxAt) >= rt:
		return recvStep{End: true, Err: fmt.Errorf("%w: no data from the sender for %v after the transfer began (it stopped, or the network failed)", ErrSenderLost, rt)}, now
	case p.lastHeard > 0 && rt > 0 && now.Sub(p.lastHeardAt) >= rt:
		return recvStep{End: true, Err: fmt.Errorf("%w: nothing heard from the sender for %v after the session began (it stopped, or the network failed)", ErrSenderLost, rt)}, now
	}
	if !v.Joined && p.startTimeout > 0 {
		at(p.start.Add(p.startTimeout))
	}
	if rt > 0 && p.lastRx > 0 {
		at(p.lastRxAt.Add(rt))
	}
	if rt > 0 && p.lastHeard > 0 {
		at(p.lastHeardAt.Add(rt))
	}
	return st, next
}
