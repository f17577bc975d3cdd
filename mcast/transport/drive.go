package transport

import (
	"context"
	"errors"
	"time"

	"github.com/discuscast/discus/mcast"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Drive when the transport stops
// delivering without an error of its own.
var ErrClosed = errors.New("mcast: transport closed")

// Go's timers fire about a millisecond late on Linux; pacing needs finer
// steps, so shorter waits sleep in the kernel instead (nanosleep on an
// hrtimer, typically within 100 µs).
const timerGranularity = time.Millisecond

// maxDrain bounds how many queued batches one turn of the loop handles before
// it polls again, so a flood of input cannot starve pacing and timers.
const maxDrain = 16

// Drive is the owner loop: it feeds the machine every datagram the transport
// delivers and the current time, sends what the machine emits, and sleeps
// until the machine's next deadline or the next datagram. It returns when
// stop reports true or an error, when ctx ends, or when the transport fails.
// All calls into m happen on the calling goroutine. A *Sender or *Receiver is put
// OnWire first, so what crosses the transport always carries its trailer.
func Drive(ctx context.Context, tr Transport, m mcast.Machine, stop func() (bool, error)) error {
	switch m.(type) {
	case *mcast.Sender, *mcast.Receiver:
		w, err := mcast.OnWire(m)
		if err != nil {
			return err
		}
		m = w
	}
	var (
		out   [][]byte
		store [][]byte
	)
	emit := func(p []byte) {
		i := len(out)
		if i == len(store) {
			store = append(store, make([]byte, 0, DefaultMaxDatagram))
		}
		store[i] = append(store[i][:0], p...)
		out = append(out, store[i])
	}
	handle := func(b *Batch) {
		now := time.Now()
		for _, p := range b.Pkts {
			m.Handle(p, now)
		}
		tr.Release(b)
	}
	in := tr.Incoming()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Whatever is queued goes first: it may change what is due. A receiver
		// that fell behind (busy writing) must see the blocks already waiting
		// for it before its timers judge them lost.
		drained := 0
	drain:
		for drained < maxDrain {
			select {
			case b, ok := <-in:
				if !ok {
					return closedErr(tr)
				}
				handle(b)
				drained++
			default:
				break drain
			}
		}
		now := time.Now()
		next := m.Poll(now, emit)
		if len(out) > 0 {
			err := tr.Send(out)
			out = out[:0]
			if err != nil {
				return err
			}
		}
		if done, err := stop(); done || err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if drained == maxDrain {
			continue // more may be waiting: take it before sleeping
		}
		d := time.Until(next)
		switch {
		case d <= 0:
			continue
		case d < timerGranularity:
			ts := unix.NsecToTimespec(int64(d))
			_ = unix.Nanosleep(&ts, nil)
			continue
		}
		timer.Reset(d)
		select {
		case b, ok := <-in:
			if !ok {
				return closedErr(tr)
			}
			handle(b)
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func closedErr(tr Transport) error {
	if err := tr.Err(); err != nil {
		return err
	}
	return ErrClosed
}
