package simnet

import (
	"testing"
	"time"
)

// beacon emits one packet of size bytes every interval; counter counts what arrives.
type beacon struct {
	size     int
	interval time.Duration
	n        int
	max      int
}

func (b *beacon) Handle([]byte, time.Time) {}
func (b *beacon) Poll(now time.Time, emit func([]byte)) time.Time {
	if b.n < b.max {
		b.n++
		emit(make([]byte, b.size))
	}
	return now.Add(b.interval)
}

type counter struct {
	got  int
	last time.Time
}

func (c *counter) Handle(_ []byte, now time.Time)               { c.got++; c.last = now }
func (c *counter) Poll(now time.Time, _ func([]byte)) time.Time { return now.Add(time.Hour) }

func run(seed uint64, link Link) (*counter, *Port) {
	n := New(Config{Seed: seed})
	n.Add(&beacon{size: 1000, interval: 100 * time.Microsecond, max: 3000}, Link{Delay: time.Millisecond})
	c := &counter{}
	p := n.Add(c, link)
	n.Run(n.Now().Add(10*time.Second), nil)
	return c, p
}

func TestLossRates(t *testing.T) {
	c, p := run(1, Link{Loss: 0.05})
	lost := float64(p.Stats().Lost) / 3000
	t.Logf("independent 5%%: got %d, lost %.3f", c.got, lost)
	if lost < 0.04 || lost > 0.06 {
		t.Errorf("loss %.3f, want ~0.05", lost)
	}
	c, p = run(2, Link{Burst: &Burst{PGoodBad: 0.01, PBadGood: 0.1, LossBad: 1}})
	lost = float64(p.Stats().Lost) / 3000
	t.Logf("bursty (stationary bad share 1/11): got %d, lost %.3f", c.got, lost)
	if lost < 0.06 || lost > 0.12 {
		t.Errorf("bursty loss %.3f, want ~0.09", lost)
	}
}

func TestRateLimit(t *testing.T) {
	// 10 MB/s offered into a 1 MB/s link with a 20 ms queue: ~10 % gets through.
	c, p := run(3, Link{Rate: 1_000_000, Queue: 20 * time.Millisecond})
	t.Logf("rate-limited: got %d, dropped %d, last arrival %v", c.got, p.Stats().Dropped, c.last)
	if c.got < 270 || c.got > 360 {
		t.Errorf("got %d of 3000 through a tenth-rate link", c.got)
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := run(7, Link{Loss: 0.1, Jitter: time.Millisecond, Duplicate: 0.1})
	b, _ := run(7, Link{Loss: 0.1, Jitter: time.Millisecond, Duplicate: 0.1})
	if a.got != b.got || !a.last.Equal(b.last) {
		t.Errorf("same seed, different runs: %d/%v vs %d/%v", a.got, a.last, b.got, b.last)
	}
}

func TestJoinAndDie(t *testing.T) {
	n := New(Config{Seed: 1})
	n.Add(&beacon{size: 100, interval: time.Millisecond, max: 1000}, Link{})
	c := &counter{}
	p := n.AddAt(c, Link{}, n.Now().Add(100*time.Millisecond))
	p.KillAt(n.Now().Add(300 * time.Millisecond))
	n.Run(n.Now().Add(2*time.Second), nil)
	t.Logf("joined at 100 ms, died at 300 ms: got %d", c.got)
	if c.got < 195 || c.got > 205 {
		t.Errorf("got %d packets, want ~200", c.got)
	}
}
