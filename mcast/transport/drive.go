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

// sendBuffer is the room Drive lays emitted packets out in before it sends them:
// ~700 data packets of an MTU 1500 path, eleven full GSO buffers.
const sendBuffer = 1 << 20

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
	// What Poll emits is laid out back to back in one send buffer: the packet is
	// copied once, out of the machine's own buffer, and runs of equal-size packets
	// go to the kernel from there as GSO buffers. The buffer is sent and reused
	// when it fills up, so a long Poll streams in batches.
	var (
		out     [][]byte
		buf     = make([]byte, 0, sendBuffer)
		sendErr error
	)
	flush := func() {
		if len(out) > 0 && sendErr == nil {
			sendErr = tr.Send(out)
		}
		clear(out) // drop the references into buf
		out, buf = out[:0], buf[:0]
	}
	emit := func(p []byte) {
		if len(buf)+len(p) > cap(buf) {
			flush()
		}
		if len(p) > cap(buf) { // larger than any datagram: never laid out
			out = append(out, append([]byte(nil), p...))
			return
		}
		off := len(buf)
		buf = append(buf, p...)
		out = append(out, buf[off:len(buf)]) // capacity to buf's end: contiguous runs
	}
	fm, _ := m.(mcast.FromMachine)
	handle := func(b *Batch) {
		now := time.Now()
		if fm != nil && len(b.Froms) == len(b.Pkts) {
			for i, p := range b.Pkts {
				fm.HandleFrom(p, b.Froms[i], now)
			}
		} else {
			for _, p := range b.Pkts {
				m.Handle(p, now)
			}
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
		flush()
		if sendErr != nil {
			return sendErr
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
