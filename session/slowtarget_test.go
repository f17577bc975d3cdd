package session_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

// pipeEnd is one side of an in-memory datagram link: what it sends arrives at its peer
// (copied; dropped when the peer's queue is full, as a socket buffer would).
type pipeEnd struct {
	in     chan *transport.Batch
	peer   *pipeEnd
	mu     sync.Mutex
	sends  []time.Time // when this side sent, for the silence check
	closed chan struct{}
	once   sync.Once
}

func newPipe() (a, b *pipeEnd) {
	a = &pipeEnd{in: make(chan *transport.Batch, 4096), closed: make(chan struct{})}
	b = &pipeEnd{in: make(chan *transport.Batch, 4096), closed: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

func (p *pipeEnd) Incoming() <-chan *transport.Batch { return p.in }
func (*pipeEnd) Release(*transport.Batch)            {}
func (*pipeEnd) Err() error                          { return nil }
func (p *pipeEnd) Close() error                      { p.once.Do(func() { close(p.closed) }); return nil }
func (p *pipeEnd) Send(pkts [][]byte) error {
	p.mu.Lock()
	p.sends = append(p.sends, time.Now())
	p.mu.Unlock()
	select {
	case <-p.peer.closed:
		return nil
	default:
	}
	b := &transport.Batch{}
	for _, q := range pkts {
		b.Pkts = append(b.Pkts, append([]byte(nil), q...))
	}
	select {
	case p.peer.in <- b:
	default:
	}
	return nil
}

// slowDisk is a target that takes its time over every write, as a TCG VM's virtio disk
// did (bench/netboot.sh: ~300 KiB/s).
type slowDisk struct {
	mu    sync.Mutex
	buf   []byte
	delay time.Duration
}

func (d *slowDisk) WriteAt(p []byte, off int64) (int, error) {
	time.Sleep(d.delay)
	d.mu.Lock()
	defer d.mu.Unlock()
	if need := int(off) + len(p); need > len(d.buf) {
		d.buf = append(d.buf, make([]byte, need-len(d.buf))...)
	}
	copy(d.buf[off:], p)
	return len(p), nil
}

// TestSlowTargetNotLost: a receiver whose disk is much slower than the network ends up
// holding every chunk it still lacks, complete, waiting for its writes (the 3-VM lab's
// vm1: 15 chunks, 60 s of writing). The sender rightly sends it nothing more; the
// receiver must neither take that for a lost sender (it gave up with "no data from the
// sender for 1m0s", exit 5, and mcsend then declared it lost) nor fall silent: it
// completes, and it sends something at least every 15 s meanwhile.
func TestSlowTargetNotLost(t *testing.T) {
	data := diskBytes(3<<20, 7)
	img := makeImageCfg(t, data, image.CreateConfig{ChunkSize: 64 << 10})
	src, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	st, rt := newPipe()
	disk := &slowDisk{delay: 400 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg   sync.WaitGroup
		res  session.ReceiveResult
		rerr error
	)
	t0 := time.Now()
	wg.Go(func() {
		res, rerr = session.ReceiveImage(ctx, disk, session.ReceiveConfig{Transport: rt,
			Install: image.InstallConfig{Workers: 1}, StartTimeout: 20 * time.Second, ReceiveTimeout: 2 * time.Second})
	})
	_, serr := session.Send(ctx, src, session.SendConfig{Transport: st,
		Sender:       mcast.SenderConfig{SessionID: img.Header().ID, MaxRate: 20 << 20},
		MinReceivers: 1, StartTimeout: 20 * time.Second})
	wg.Wait()
	took := time.Since(t0)
	t.Logf("ASSERT receiver: %v after %v (%d chunks written, %d deferred, window drops %d); sender: %v",
		rerr, took.Round(time.Millisecond), res.Install.Written, res.Stats.Deferred, res.Stats.Drops[11], serr)
	if rerr != nil {
		t.Fatalf("receiver: %v", rerr)
	}
	if serr != nil {
		t.Fatalf("sender: %v", serr)
	}
	if !bytes.Equal(disk.buf[:len(data)], data) {
		t.Fatal("target differs from the source")
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(rt.sends); i++ {
		gap = max(gap, rt.sends[i].Sub(rt.sends[i-1]))
	}
	t.Logf("ASSERT receiver sent %d times, longest silence %v", len(rt.sends), gap.Round(time.Millisecond))
	if gap > 15*time.Second {
		t.Fatalf("the receiver fell silent for %v", gap)
	}
}
