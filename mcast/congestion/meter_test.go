package congestion

import (
	"testing"
	"time"
)

func TestLossMeter(t *testing.T) {
	var m LossMeter
	seq := uint32(1000)
	for i := 0; i < 2*LossWindow; i++ {
		if i%16 == 0 {
			seq++ // one in 16 lost
		}
		m.Add(seq)
		seq++
	}
	if m.Windows() < 1 || m.Last() < 0.05 || m.Last() > 0.07 {
		t.Fatalf("windows %d, last %v: want about 1/17", m.Windows(), m.Last())
	}
	lost := m.Lost()
	if m.Add(seq - 5) {
		t.Error("a late packet moved the meter")
	}
	// One flipped bit far ahead is an outlier, not millions of losses.
	if m.Add(seq+1<<26) || m.Lost() != lost || m.Outliers() != 1 {
		t.Errorf("an outlier counted: lost %d (was %d), outliers %d", m.Lost(), lost, m.Outliers())
	}
	if !m.Add(seq) {
		t.Error("the stream's next packet was refused")
	}
	// A real jump (two packets just after each other) moves it, counting at most a window.
	far := seq + 100_000
	m.Add(far)
	if !m.Add(far+1) || m.Lost() > lost+LossWindow {
		t.Errorf("an outage: lost %d, was %d", m.Lost(), lost)
	}
}

func TestRTT(t *testing.T) {
	var e RTT
	e.Init()
	if e.SRTT() != int64(10*time.Millisecond) || e.Samples() != 0 {
		t.Fatalf("prior %d", e.SRTT())
	}
	e.Sample(int64(4*time.Millisecond), int64(4*time.Millisecond))
	if e.SRTT() != int64(4*time.Millisecond) || e.RTTVar() != int64(2*time.Millisecond) {
		t.Fatalf("first sample: srtt %d rttvar %d", e.SRTT(), e.RTTVar())
	}
	e.Sample(int64(12*time.Millisecond), int64(12*time.Millisecond))
	if e.SRTT() != int64(5*time.Millisecond) {
		t.Fatalf("srtt %d, want 4 + (12-4)/8 = 5 ms", e.SRTT())
	}
	// A net delay implausibly small against the raw one: a quarter of the raw is used.
	var f RTT
	f.Init()
	f.Sample(0, int64(8*time.Millisecond))
	if f.SRTT() != int64(2*time.Millisecond) {
		t.Fatalf("srtt %d, want raw/4", f.SRTT())
	}
}

func TestPacer(t *testing.T) {
	now := time.Unix(0, 0)
	var p Pacer
	p.Init(1e6, 1000, now) // 1000 packets/s
	sent, wakes := 0, 0
	for sent < 2000 {
		p.Refill(now)
		for p.Ready() {
			p.Spend(1000)
			sent++
		}
		wakes++
		now = p.ReadyAt(now)
	}
	// After the initial burst (2 packets of credit) packets go 1 ms apart on average,
	// three per wake-up (the bucket's 2 packets of credit and one of debt).
	if el := now.Sub(time.Unix(0, 0)); el < 1990*time.Millisecond || el > 2010*time.Millisecond || wakes > 700 {
		t.Fatalf("%d packets in %v, %d wake-ups, want 1000/s, 3 per wake-up", sent, el, wakes)
	}
	// At a high rate a wake-up sends about one GSO buffer (wakeCredit) of packets.
	p.Init(500e6, 1464, now)
	sent, wakes = 0, 0
	start := now
	for sent < 100000 {
		p.Refill(now)
		for p.Ready() {
			p.Spend(1464)
			sent++
		}
		wakes++
		now = p.ReadyAt(now)
	}
	el := now.Sub(start)
	if per := sent / wakes; per < 40 || per > 44 || el < 290*time.Millisecond || el > 295*time.Millisecond {
		t.Fatalf("%d packets per wake-up, %v for %d: want 40-44, 500 MB/s", per, el, sent)
	}
	p.SetRate(2e6)
	if p.Rate() != 2e6 || p.Last().After(now) {
		t.Fatal("SetRate / Last")
	}
}
