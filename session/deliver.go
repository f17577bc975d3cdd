package session

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/discuscast/discus/mcast"
)

// errQueueFull: every delivery worker is busy and the queue is full. The chunk stays
// in the Receiver, held (it counts against the held-chunk bound (2·Window+4), whose DropWindow is the
// back-pressure on the network), and is offered again after the next delivery.
var errQueueFull = fmt.Errorf("session: delivery queue full: %w", mcast.ErrDeferred)

// settlePoll is how soon the loop looks for verdicts while deliveries are out (the
// workers do not wake it; packets usually do first).
const settlePoll = time.Millisecond

// verdict is what became of one delivery.
type verdict struct {
	index int
	err   error
}

// delivering puts a Receiver's deliveries on workers: the loop hands out what Ready
// returns to a bounded queue and settles the verdicts the workers send back, so the
// rebuild (fec.Decoder.Bytes), the manifest's SHA-256, the chunk checks and a Put that
// waits for the installer's window never run on the receive loop.
type delivering struct {
	m       mcast.Machine // the receiver on the wire
	r       *mcast.Receiver
	jobs    chan mcast.Delivery
	results chan verdict
	out     int // handed to workers, not yet settled
	judge   func(v verdict) error
	wg      sync.WaitGroup
}

// newDelivering starts workers that run work on each delivery; judge sees each verdict
// on the loop before the receiver does (it classifies errors, counts forgeries) and
// returns the error to settle with.
func newDelivering(m mcast.Machine, r *mcast.Receiver, workers int, work func(mcast.Delivery) error, judge func(verdict) error) *delivering {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, 8)
	d := &delivering{m: m, r: r, judge: judge,
		jobs: make(chan mcast.Delivery, workers), results: make(chan verdict, 2*workers)}
	for range workers {
		d.wg.Go(func() {
			for job := range d.jobs {
				d.results <- verdict{job.Index, work(job)}
			}
		})
	}
	return d
}

func (d *delivering) Handle(pkt []byte, now time.Time) {
	d.m.Handle(pkt, now)
	if d.r.HasReady() {
		d.dispatch(now)
	}
}

func (d *delivering) Poll(now time.Time, emit func([]byte)) time.Time {
	d.collect(now)
	d.dispatch(now)
	next := d.m.Poll(now, emit)
	if d.r.HasReady() { // held chunks offered again
		d.dispatch(now)
	}
	if soon := now.Add(settlePoll); d.out > 0 && next.After(soon) {
		next = soon
	}
	return next
}

// dispatch queues what the receiver hands out; what finds the queue full stays held.
func (d *delivering) dispatch(now time.Time) {
	for _, job := range d.r.Ready() {
		select {
		case d.jobs <- job:
			d.out++
		default:
			d.r.Settle(job.Index, errQueueFull, now)
		}
	}
}

// collect settles the verdicts in.
func (d *delivering) collect(now time.Time) {
	for d.out > 0 {
		select {
		case v := <-d.results:
			d.out--
			d.r.Settle(v.index, d.judge(v), now)
		default:
			return
		}
	}
}

// close stops the workers once they finished what they hold.
func (d *delivering) close() {
	close(d.jobs)
	d.wg.Wait()
}

// putOwned is implemented by sinks that take a chunk's buffer without copying it
// (*image.Installer).
type putOwned interface {
	PutOwned(ctx context.Context, chunk []byte, release func()) error
}

// putOwnedChecked is implemented by sinks that can skip the checks a chunk whose
// SHA-256 matched the manifest has passed already (*image.Installer).
type putOwnedChecked interface {
	PutOwnedChecked(ctx context.Context, chunk []byte, release func()) error
}
