package session

import (
	"fmt"
	"time"

	"github.com/discuscast/discus/mcast"
)

// sendPolicy is Send's session policy without a socket or a clock: when data starts
// (enough receivers, MinWait, MaxWait), when nobody came (StartTimeout), which
// receivers are lost (ReceiverTimeout), when the session ends (Linger after every
// receiver is done, or IdleTimeout of a serving session). The loop, a simulated
// network or a test steps it with the time and what the Sender knows.
type sendPolicy struct {
	minReceivers     int
	minWait, maxWait time.Duration
	startTimeout     time.Duration
	receiverTimeout  time.Duration // 0 = never lost
	linger           time.Duration
	// serve keeps the session open for receivers that come later: it ends only
	// after idle with no receiver at work (serve mode, SendConfig.Serve).
	serve bool
	idle  time.Duration

	start     time.Time
	started   bool
	lost      map[uint64]bool
	doneSince time.Time // every receiver done (or lost) since; zero = some at work
}

// sendView is what one step of the policy looks at.
type sendView struct {
	Receivers []mcast.ReceiverInfo
	Final     bool // the source's chunk count is final
}

// sendStep is one step's outcome.
type sendStep struct {
	Start bool     // let data flow now (once)
	Lost  []uint64 // receivers declared lost in this step
	End   bool     // the session is over (Err says why, nil = success)
	Err   error
}

func newSendPolicy(cfg SendConfig, start time.Time) *sendPolicy {
	return &sendPolicy{
		minReceivers: max(cfg.MinReceivers, 1), minWait: cfg.MinWait, maxWait: cfg.MaxWait,
		startTimeout: cfg.StartTimeout, receiverTimeout: cfg.ReceiverTimeout, linger: cfg.Linger,
		serve: cfg.Serve, idle: cfg.IdleTimeout,
		start: start, lost: map[uint64]bool{},
	}
}

// idleNow reports whether, at the last step, no receiver was at work.
func (p *sendPolicy) idleNow() bool { return !p.doneSince.IsZero() || !p.started }

// Lost is how many receivers were declared lost so far.
func (p *sendPolicy) Lost() int { return len(p.lost) }

// isLost reports whether the receiver was declared lost.
func (p *sendPolicy) isLost(id uint64) bool { return p.lost[id] }

// Step applies the policy at now. next is when the outcome can change without new
// input (a receiver heard, a count made final): the caller steps again by then.
func (p *sendPolicy) Step(now time.Time, v sendView) (st sendStep, next time.Time) {
	elapsed := now.Sub(p.start)
	n := len(v.Receivers)
	next = now.Add(time.Hour)
	at := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	if !p.started {
		switch {
		case n >= p.minReceivers && elapsed >= p.minWait,
			p.maxWait > 0 && elapsed >= p.maxWait && n > 0:
			p.started, st.Start = true, true
		case n == 0 && p.serve && p.idle > 0 && elapsed >= p.idle && (p.startTimeout == 0 || p.startTimeout >= p.idle):
			// Serving, and nobody came for the idle timeout: every receiver that
			// joined (none) completed.
			st.End = true
			return st, now
		case n == 0 && p.startTimeout > 0 && elapsed >= p.startTimeout:
			st.End, st.Err = true, fmt.Errorf("%w: no receiver within %v", ErrStartTimeout, p.startTimeout)
			return st, now
		case n == 0 && p.maxWait > 0 && elapsed >= p.maxWait:
			st.End, st.Err = true, fmt.Errorf("%w: none joined within %v", ErrNoReceivers, p.maxWait)
			return st, now
		default:
			if n >= p.minReceivers {
				at(p.start.Add(p.minWait))
			}
			if p.maxWait > 0 {
				at(p.start.Add(p.maxWait))
			}
			if p.startTimeout > 0 && n == 0 {
				at(p.start.Add(p.startTimeout))
			}
			if p.serve && p.idle > 0 && n == 0 {
				at(p.start.Add(p.idle))
			}
			return st, next
		}
	}
	pending := 0
	if len(p.lost) > 0 {
		// A receiver no longer in view was started again (alias.go): it is not lost.
		in := make(map[uint64]bool, len(v.Receivers))
		for _, r := range v.Receivers {
			in[r.NodeID] = true
		}
		for id := range p.lost {
			if !in[id] {
				delete(p.lost, id)
			}
		}
	}
	for _, r := range v.Receivers {
		switch {
		case r.Done:
			delete(p.lost, r.NodeID) // it came back and completed after all
		case p.receiverTimeout > 0 && now.Sub(r.LastHeard) > p.receiverTimeout:
			if !p.lost[r.NodeID] {
				p.lost[r.NodeID] = true
				st.Lost = append(st.Lost, r.NodeID)
			}
		default:
			delete(p.lost, r.NodeID) // heard again: at work, not lost
			pending++
			if p.receiverTimeout > 0 {
				at(r.LastHeard.Add(p.receiverTimeout + time.Nanosecond))
			}
		}
	}
	if pending > 0 || !v.Final {
		p.doneSince = time.Time{}
		return st, next
	}
	if p.doneSince.IsZero() {
		p.doneSince = now
	}
	if p.serve {
		// Whoever comes later is served too: the session ends only once nobody has
		// been at work for the idle timeout (0 = serve for ever).
		if p.idle > 0 && now.Sub(p.doneSince) >= p.idle {
			st.End = true
			return st, now
		}
		if p.idle > 0 {
			at(p.doneSince.Add(p.idle))
		}
		return st, next
	}
	if now.Sub(p.doneSince) >= p.linger {
		st.End = true
		return st, now
	}
	at(p.doneSince.Add(p.linger))
	return st, next
}
