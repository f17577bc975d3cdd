package simnet

import (
	"container/heap"
	"math/rand/v2"
	"time"
)

// Node is a protocol state machine driven by the network.
type Node interface {
	Handle(pkt []byte, now time.Time)
	Poll(now time.Time, emit func(pkt []byte)) (next time.Time)
}

// Link shapes what one node receives (and, for UpLoss, what it sends). The zero value
// is a perfect link.
type Link struct {
	Delay     time.Duration // one-way latency of the node's link; a path adds both ends
	Jitter    time.Duration // extra uniform random delay in [0, Jitter) per packet: reorders
	Loss      float64       // independent loss of packets to this node
	Burst     *Burst        // bursty loss of packets to this node, on top of Loss
	Rate      int64         // bytes/s the node's link carries; 0 = unlimited
	Queue     time.Duration // what a rate-limited link buffers before dropping; 0 = 20 ms
	Duplicate float64       // chance a packet to this node arrives twice
	UpLoss    float64       // independent loss of packets from this node, for everyone
}

// Burst is a Gilbert-Elliott loss model: a good and a bad state, switching per packet.
type Burst struct {
	PGoodBad float64 // chance per packet to enter the bad state
	PBadGood float64 // chance per packet to leave it
	LossBad  float64 // loss in the bad state
}

// Config configures a Network.
type Config struct {
	Seed  uint64    // all randomness of the network (loss, jitter)
	Start time.Time // virtual time zero; zero value = 2026-01-01 UTC
}

// PortStats counts one node's traffic.
type PortStats struct {
	Sent, SentBytes uint64 // packets the node emitted
	Received        uint64 // packets handed to the node (duplicates included)
	Lost            uint64 // packets to the node lost at random
	Dropped         uint64 // packets to the node dropped by its full queue
}

// Port is a node's attachment to the network.
type Port struct {
	net      *Network
	node     Node
	link     Link
	idx      int
	joinAt   int64
	deadAt   int64
	nextPoll int64
	bad      bool  // Gilbert-Elliott state
	busy     int64 // rate-limited link busy until
	stats    PortStats
}

// Network is the simulated multicast group.
type Network struct {
	start  time.Time
	now    int64
	rng    *rand.Rand
	ports  []*Port
	groups []*group // plain ports by delay: one event delivers to the whole group
	events eventHeap
	seq    uint64
	sender *Port // emitting port during a Poll
	emitFn func([]byte)
	nowT   cachedTime
	Events uint64 // events processed
}

type group struct {
	delay int64
	ports []*Port
}

// New returns an empty network at virtual time Config.Start.
func New(cfg Config) *Network {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	n := &Network{start: cfg.Start, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))}
	n.emitFn = n.emit
	return n
}

// Now is the current virtual time.
func (n *Network) Now() time.Time {
	if n.nowT.ns != n.now || n.nowT.t.IsZero() {
		n.nowT = cachedTime{n.now, n.start.Add(time.Duration(n.now))}
	}
	return n.nowT.t
}

// cachedTime saves converting the clock for every one of thousands of deliveries of
// the same event.
type cachedTime struct {
	ns int64
	t  time.Time
}

// Add attaches a node that joins now.
func (n *Network) Add(node Node, link Link) *Port { return n.AddAt(node, link, n.Now()) }

// AddAt attaches a node that joins at the given time: before it, it hears nothing and
// is not polled.
func (n *Network) AddAt(node Node, link Link, join time.Time) *Port {
	if link.Queue == 0 {
		link.Queue = 20 * time.Millisecond
	}
	p := &Port{net: n, node: node, link: link, idx: len(n.ports), joinAt: max(n.ns(join), n.now), deadAt: 1<<63 - 1, nextPoll: -1}
	n.ports = append(n.ports, p)
	if p.plain() {
		var g *group
		for _, x := range n.groups {
			if x.delay == int64(link.Delay) {
				g = x
			}
		}
		if g == nil {
			g = &group{delay: int64(link.Delay)}
			n.groups = append(n.groups, g)
		}
		g.ports = append(g.ports, p)
	}
	n.schedulePoll(p, p.joinAt)
	return p
}

func (p *Port) plain() bool {
	return p.link.Rate == 0 && p.link.Jitter == 0 && p.link.Duplicate == 0
}

// KillAt makes the node die at t: from then on it hears nothing and is not polled.
func (p *Port) KillAt(t time.Time) { p.deadAt = p.net.ns(t) }

// Stats returns the port's counters.
func (p *Port) Stats() PortStats { return p.stats }

// Node returns the node attached to the port.
func (p *Port) Node() Node { return p.node }

func (p *Port) alive(t int64) bool { return t >= p.joinAt && t < p.deadAt }

func (n *Network) ns(t time.Time) int64 { return int64(t.Sub(n.start)) }

// Run processes events until the virtual time passes deadline, no event is left, or
// stop returns true. It reports whether stop returned true. Stop is checked every 256
// events and whenever the virtual time moved by 100 µs since the last check, so it may
// be called late by at most that much.
func (n *Network) Run(deadline time.Time, stop func() bool) bool {
	end := n.ns(deadline)
	checked := int64(-1 << 62)
	for i := 0; ; i++ {
		if stop != nil && (i&255 == 0 || n.now-checked >= int64(100*time.Microsecond)) {
			checked = n.now
			if stop() {
				return true
			}
		}
		if len(n.events) == 0 || n.events[0].t > end {
			n.now = max(n.now, end)
			return stop != nil && stop()
		}
		ev := heap.Pop(&n.events).(event)
		n.now = ev.t
		n.Events++
		switch ev.kind {
		case evPoll:
			p := n.ports[ev.port]
			if p.nextPoll == ev.t && p.alive(ev.t) {
				p.nextPoll = -1
				n.poll(p)
			}
		case evGroup:
			n.deliverGroup(n.groups[ev.port], ev.from, ev.pkt)
		case evPort:
			p := n.ports[ev.port]
			if p.alive(ev.t) {
				p.stats.Received++
				p.node.Handle(ev.pkt, n.Now())
				n.poll(p)
			}
		}
	}
}

func (n *Network) poll(p *Port) {
	n.sender = p
	next := n.ns(p.node.Poll(n.Now(), n.emitFn))
	n.sender = nil
	n.schedulePoll(p, max(next, n.now+1))
}

func (n *Network) schedulePoll(p *Port, t int64) {
	if p.nextPoll == t || t >= p.deadAt {
		return
	}
	p.nextPoll = t
	n.push(event{t: t, kind: evPoll, port: int32(p.idx)})
}

// emit sends one packet from the polling node to every other node.
func (n *Network) emit(pkt []byte) {
	from := n.sender
	from.stats.Sent++
	from.stats.SentBytes += uint64(len(pkt))
	cp := append([]byte(nil), pkt...)
	up := int64(from.link.Delay)
	for gi, g := range n.groups {
		n.push(event{t: n.now + up + g.delay, kind: evGroup, port: int32(gi), from: int32(from.idx), pkt: cp})
	}
	for _, p := range n.ports {
		if p == from || p.plain() || !p.alive(n.now) {
			continue
		}
		n.sendTo(from, p, cp, n.now+up)
	}
}

// sendTo shapes a packet for a port with a rate limit, jitter or duplication.
func (n *Network) sendTo(from, p *Port, pkt []byte, arrive int64) {
	if n.lost(from, p) {
		return
	}
	at := arrive
	if p.link.Rate > 0 {
		start := max(p.busy, arrive)
		if start-arrive > int64(p.link.Queue) {
			p.stats.Dropped++
			return
		}
		p.busy = start + int64(len(pkt))*int64(time.Second)/p.link.Rate
		at = p.busy
	}
	at += int64(p.link.Delay)
	if p.link.Jitter > 0 {
		at += n.rng.Int64N(int64(p.link.Jitter))
	}
	n.push(event{t: at, kind: evPort, port: int32(p.idx), pkt: pkt})
	if p.link.Duplicate > 0 && n.rng.Float64() < p.link.Duplicate {
		n.push(event{t: at + int64(p.link.Jitter) + 1, kind: evPort, port: int32(p.idx), pkt: pkt})
	}
}

func (n *Network) deliverGroup(g *group, from int32, pkt []byte) {
	src := n.ports[from]
	now := n.Now()
	for _, p := range g.ports {
		if p == src || !p.alive(n.now) || n.lost(src, p) {
			continue
		}
		p.stats.Received++
		p.node.Handle(pkt, now)
		n.poll(p)
	}
}

// lost rolls the loss models of a packet from src to p.
func (n *Network) lost(src, p *Port) bool {
	l := &p.link
	if src.link.UpLoss > 0 && n.rng.Float64() < src.link.UpLoss {
		p.stats.Lost++
		return true
	}
	if l.Loss > 0 && n.rng.Float64() < l.Loss {
		p.stats.Lost++
		return true
	}
	if b := l.Burst; b != nil {
		if p.bad {
			p.bad = n.rng.Float64() >= b.PBadGood
		} else {
			p.bad = n.rng.Float64() < b.PGoodBad
		}
		if p.bad && n.rng.Float64() < b.LossBad {
			p.stats.Lost++
			return true
		}
	}
	return false
}

func (n *Network) push(e event) {
	n.seq++
	e.seq = n.seq
	heap.Push(&n.events, e)
}

const (
	evPoll = iota
	evGroup
	evPort
)

type event struct {
	t    int64
	seq  uint64
	kind uint8
	port int32 // port index, or group index for evGroup
	from int32
	pkt  []byte
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = event{}
	*h = old[:len(old)-1]
	return e
}
