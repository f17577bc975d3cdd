package congestion

import "time"

// Pacer is a token bucket in wire bytes. It lets the sender go one packet into debt and
// then waits for the debt to clear, so packets leave evenly spaced at the rate; the
// bucket holds at most max(2 packets, half a millisecond of rate) of credit, enough to
// absorb a late wake-up without bursting.
//
// Once in debt the sender does not wake for every packet: ReadyAt waits until the
// bucket holds wakeCredit (or, at low rates, its whole size), so each wake-up sends
// about one GSO buffer's worth of packets in one system call. A wake-up per packet
// or two cost the sender more CPU (a nanosleep, a sendmmsg, a Poll) than the
// packets did; the packets of one wake-up leave as one GSO buffer either way.
type Pacer struct {
	rate   float64 // bytes/s
	tokens float64
	burst  float64
	last   time.Time
	pkt    int
}

// Init starts the bucket full at rate bytes/s for packets of pkt bytes.
func (p *Pacer) Init(rate float64, pkt int, now time.Time) {
	p.pkt = pkt
	p.last = now
	p.SetRate(rate)
	p.tokens = p.burst
}

// Rate is the pacing rate in bytes/s.
func (p *Pacer) Rate() float64 { return p.rate }

// Last is the time of the latest Refill (or Init).
func (p *Pacer) Last() time.Time { return p.last }

// SetRate changes the rate; the credit held shrinks to the new bucket size.
func (p *Pacer) SetRate(rate float64) {
	p.rate = rate
	p.burst = max(2*float64(p.pkt), rate*0.0005)
	p.tokens = min(p.tokens, p.burst)
}

// Refill adds the credit earned since the last Refill.
func (p *Pacer) Refill(now time.Time) {
	if dt := now.Sub(p.last); dt > 0 {
		p.tokens = min(p.burst, p.tokens+dt.Seconds()*p.rate)
		p.last = now
	}
}

// wakeCredit is the credit a paced sender waits for before it wakes: with the packet
// of debt it then sends, about 42 datagrams of 1464 bytes, within one UDP GSO buffer
// (64 KiB, the kernel's limit).
const wakeCredit = 60000

// Ready reports whether a packet may go now.
func (p *Pacer) Ready() bool { return p.tokens >= 0 }

// Spend takes n bytes sent.
func (p *Pacer) Spend(n int) { p.tokens -= float64(n) }

// ReadyAt is when the next packets may go: now, or once the debt is paid and
// min(wakeCredit, the bucket's size) of credit has built up.
func (p *Pacer) ReadyAt(now time.Time) time.Time {
	if p.tokens >= 0 {
		return now
	}
	d := time.Duration((min(wakeCredit, p.burst) - p.tokens) / p.rate * float64(time.Second))
	return now.Add(max(d, time.Microsecond))
}
