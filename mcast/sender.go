package mcast

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/congestion"
	"github.com/discuscast/discus/mcast/wire"
)

// Sender is the sending side of a session as a state machine: received datagrams and
// the time go in through Handle, packets come out of Poll. It owns no goroutine, timer
// or socket and is not safe for concurrent use; one owner loop (Drive, or a simulated
// network) calls it.
type Sender struct {
	cfg    SenderConfig
	src    ChunkSource
	log    *slog.Logger
	rng    *rand.Rand
	hdr    wire.Header
	params fec.Params
	pktLen int // bytes of one data packet on the wire (UDP payload, trailer included)

	chunks     int
	final      bool
	dataNext   []uint32 // per chunk: next data block; beyond K counts recycled blocks
	parityNext []uint32 // per chunk: next parity index (parity is always fresh until M)
	kOf        []uint32 // per chunk: K once the chunk was loaded (0 = unknown)
	bursts     []burst  // per chunk: its latest run of blocks on the wire

	repairs, fulls, side lane
	cur, curSide         *job
	repairRun            int // repair blocks sent while a whole chunk waited (pickJob)
	sideCredit           float64
	enc                  encCache
	pace                 congestion.Pacer
	rc                   congestion.Controller
	seq                  uint32
	paused               bool

	peers    map[uint64]*peer
	peerList []*peer
	spare    peer // stands in for an untracked receiver
	lossRef  float64
	haveRef  bool // lossRef was measured (some receiver reported loss)
	ackQ     []uint64

	welcomeQ    []uint64 // receivers whose hello arrived, to be welcomed (sender_welcome.go)
	nextWelcome time.Time

	nextAnnounce, nextAck, nextTick, lastCountCheck time.Time
	sinceAnnounce                                   int // data packets since the last announce

	abort     *wire.Abort    // the sender gave up (sender_abort.go)
	from      netip.AddrPort // the source of the datagram being handled (HandleFrom)
	nextAbort time.Time

	buf         []byte
	needBuf     []wire.Need
	lossScratch []float64 // tick's median
	stats       SenderStats
}

// SenderStats is a snapshot of a Sender's counters.
type SenderStats struct {
	Packets, Bytes  uint64 // everything sent
	Announces, Acks uint64 // control packets sent
	Aborts          uint64 // abort packets sent after Abort
	DataBlocks      uint64 // data packets carrying a data block (index < K)
	ParityBlocks    uint64 // data packets carrying a parity block
	SideBlocks      uint64 // of those, sent from the side queue for outlier receivers
	Requests        uint64 // request packets received
	Needs           uint64 // chunk needs in them
	NeedsMerged     uint64 // needs folded into work already queued
	NeedsInFlight   uint64 // needs dropped: blocks sent after the receiver wrote them cover them
	NeedsOverBudget uint64 // needs dropped or cut: the node's budget, or the chunk's repairs this round, used up
	DoneConflicts   uint64 // done reports not believed, or withdrawn by the receiver's later word
	Reports         uint64 // report packets received
	ChunkErrors     uint64 // chunks the source failed to produce
	PeersUntracked  uint64 // packets from receivers beyond the table's size (maxPeers)
	Drops           wire.Drops
	Rate            int64   // current pacing rate, bytes/s
	Queued          int     // blocks queued (estimate)
	Receivers       int     // receivers heard from
	ReceiversDone   int     // of those, done
	Outliers        int     // of those, currently outliers
	LossRef         float64 // median recent loss of receivers
}

// NewSender prepares a sender for src. It sends nothing until Poll.
func NewSender(cfg SenderConfig, src ChunkSource, now time.Time) (*Sender, error) {
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
		if cfg.Key != nil {
			cfg.BlockSize -= wire.AuthOverhead // the longer trailer must not push packets past 1500 bytes
		}
	}
	if cfg.MaxChunk == 0 {
		cfg.MaxChunk = DefaultMaxChunk
	}
	if cfg.MaxRate == 0 {
		cfg.MaxRate = DefaultMaxRate
	}
	if cfg.minRate == 0 {
		cfg.minRate = defaultMinRate
	}
	if cfg.StartRate == 0 {
		cfg.StartRate = min(DefaultStartRate, cfg.MaxRate)
	}
	if cfg.announceInterval == 0 {
		cfg.announceInterval = defaultAnnounceInterval
	}
	if cfg.sideShare == 0 {
		cfg.sideShare = defaultSideShare
	}
	if cfg.encoderCache == 0 {
		cfg.encoderCache = defaultEncoderCache
	}
	params := fec.Params{BlockSize: cfg.BlockSize, MaxParity: cfg.MaxParity}
	switch {
	case src == nil:
		return nil, fmt.Errorf("%w: nil ChunkSource", ErrConfig)
	case cfg.MaxChunk < 0 || cfg.MaxChunk > MaxChunkLimit:
		return nil, fmt.Errorf("%w: MaxChunk %d not in (0, %d]", ErrConfig, cfg.MaxChunk, MaxChunkLimit)
	case cfg.MaxRate < 0 || cfg.minRate < 0 || cfg.StartRate < 0 || cfg.minRate > cfg.MaxRate:
		return nil, fmt.Errorf("%w: rates", ErrConfig)
	case cfg.sideShare < 0 || cfg.sideShare > 0.5:
		return nil, fmt.Errorf("%w: side share %v not in [0, 0.5]", ErrConfig, cfg.sideShare)
	case cfg.MaxParity < 0 || cfg.MaxParity > 65535:
		return nil, fmt.Errorf("%w: MaxParity %d", ErrConfig, cfg.MaxParity)
	}
	if err := params.Validate(cfg.MaxChunk); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if wire.DataPacketLen(cfg.BlockSize, cfg.Key != nil) > wire.MaxDatagram {
		return nil, fmt.Errorf("%w: BlockSize %d does not fit a datagram", ErrConfig, cfg.BlockSize)
	}
	if len(src.Meta()) > wire.MaxMeta {
		return nil, fmt.Errorf("%w: meta is %d bytes, at most %d", ErrConfig, len(src.Meta()), wire.MaxMeta)
	}
	rng := newRand(cfg.Rand)
	s := &Sender{
		cfg:    cfg,
		src:    src,
		log:    logger(cfg.Logger),
		rng:    rng,
		hdr:    wire.Header{Session: cfg.SessionID, Node: nodeID(cfg.node, rng)},
		params: params,
		pktLen: wire.DataPacketLen(cfg.BlockSize, cfg.Key != nil),
		paused: cfg.Paused,
		peers:  make(map[uint64]*peer),
		// Room for the longest packet and its trailer: OnWire seals in place.
		buf: make([]byte, 0, wire.MaxSenderPacket(cfg.BlockSize)),
		enc: encCache{max: cfg.encoderCache},
	}
	s.repairs.init()
	s.fulls.init()
	s.side.init()
	rate := cfg.StartRate
	if cfg.FixedRate {
		rate = cfg.MaxRate
	}
	s.pace.Init(float64(rate), s.pktLen, now)
	s.rc.Init(now, float64(cfg.minRate), float64(cfg.MaxRate), s.pktLen, s.log)
	s.nextAnnounce, s.nextTick, s.nextAck = now, now, now
	s.refreshCount()
	return s, nil
}

// NodeID is this sender's node ID on the wire.
func (s *Sender) NodeID() uint64 { return s.hdr.Node }

// SetPaused holds data back (true) or lets it flow (false). While paused the sender
// still announces, acknowledges and queues requests, so tools can wait for receivers.
func (s *Sender) SetPaused(p bool) { s.paused = p }

// HandleFrom is Handle for a datagram from the given source address, which the table
// of receivers keeps (ReceiverInfo.Addr).
func (s *Sender) HandleFrom(pkt []byte, from netip.AddrPort, now time.Time) {
	s.from = from
	s.Handle(pkt, now)
	s.from = netip.AddrPort{}
}

// Handle takes one received datagram. It never retains or modifies pkt.
func (s *Sender) Handle(pkt []byte, now time.Time) {
	h, body, err := wire.ParseHeader(pkt)
	if err != nil {
		s.stats.Drops[wire.DropFor(err)]++
		return
	}
	if h.Session != s.hdr.Session {
		s.stats.Drops[wire.DropForeign]++
		return
	}
	if h.Node == s.hdr.Node {
		s.stats.Drops[wire.DropSelf]++
		return
	}
	switch h.Type {
	case wire.TypeRequest:
		q, err := wire.ParseRequest(h, body, s.needBuf)
		if err != nil {
			s.stats.Drops[wire.DropMalformed]++
			return
		}
		s.needBuf = q.Needs
		s.stats.Requests++
		if int32(q.Progress.Seen-s.seq) > 0 {
			q.Progress.Seen = s.seq // nobody has seen what was not sent yet
		}
		p := s.heard(h.Node, q.Progress, now)
		p.requests++
		s.notDone(p, q.Progress.Seen)
		s.refreshCount()
		out := q.Outlier || s.outlier(p)
		for _, n := range q.Needs {
			s.stats.Needs++
			if s.inFlight(n, q.Progress.Seen) {
				s.stats.NeedsInFlight++
				continue
			}
			s.addNeed(n, out, p)
		}
	case wire.TypeReport:
		r, err := wire.ParseReport(h, body)
		if err != nil {
			s.stats.Drops[wire.DropMalformed]++
			return
		}
		s.stats.Reports++
		p := s.heard(h.Node, r.Progress, now)
		p.reports++
		if r.Alias != 0 {
			p.alias = r.Alias
		}
		if r.Hello {
			s.welcome(h.Node, now)
		}
		if int32(r.Progress.Seen-s.seq) > 0 {
			r.Progress.Seen = s.seq
		}
		if r.Done {
			s.receiverDone(p, r.Progress, now)
		} else {
			s.notDone(p, r.Progress.Seen)
		}
	default:
		// Announces, data and acks come from senders; another sender on our session is
		// an operator mistake or our replacement, and never our input.
		s.stats.Drops[wire.DropRole]++
	}
}

// Poll emits every packet due at now (emit must copy pkt before returning) and returns
// when it wants to be called again, even if no packet arrives. The returned time is
// always after now unless more packets are due at once.
func (s *Sender) Poll(now time.Time, emit func(pkt []byte)) (next time.Time) {
	if s.abort != nil {
		return s.pollAbort(now, emit)
	}
	s.pace.Refill(now)
	if now.Sub(s.lastCountCheck) >= time.Millisecond {
		s.lastCountCheck = now
		if s.refreshCount() && s.nextAnnounce.Sub(now) > 20*time.Millisecond {
			s.nextAnnounce = now.Add(20 * time.Millisecond)
		}
	}
	if !now.Before(s.nextTick) {
		s.tick(now)
		s.nextTick = now.Add(controlInterval)
	}
	if !now.Before(s.nextAnnounce) || s.sinceAnnounce >= announceEvery {
		s.emitAnnounce(emit)
		s.sinceAnnounce = 0
		every := s.cfg.announceInterval
		if s.paused {
			// Receivers starting now join at the next announce, and the session waits
			// for them: announce more often while nothing else is sent.
			every = min(every, waitAnnounce)
		}
		s.nextAnnounce = now.Add(every)
	}
	if len(s.ackQ) > 0 && !now.Before(s.nextAck) {
		s.emitAcks(emit)
		s.nextAck = now.Add(ackDelay)
	}
	if len(s.welcomeQ) > 0 && !now.Before(s.nextWelcome) {
		s.emitWelcomes(emit)
	}
	for !s.paused && s.pace.Ready() && s.sinceAnnounce < announceEvery {
		pkt := s.nextPacket()
		if pkt == nil {
			break
		}
		s.sinceAnnounce++
		s.send(pkt, emit)
	}
	if s.sinceAnnounce >= announceEvery {
		s.nextAnnounce = now // due as soon as the pacer allows
	}
	next = earliest(s.nextAnnounce, s.nextTick)
	if !next.After(now) {
		next = s.pace.ReadyAt(now)
	}
	if len(s.ackQ) > 0 {
		next = earliest(next, s.nextAck)
	}
	if len(s.welcomeQ) > 0 {
		next = earliest(next, s.nextWelcome)
	}
	if !s.paused && s.hasWork() {
		next = earliest(next, s.pace.ReadyAt(now))
	}
	return next
}

func (s *Sender) send(pkt []byte, emit func([]byte)) {
	n := len(pkt) + wire.TrailerLen(s.cfg.Key != nil) // what goes on the wire (OnWire adds the trailer)
	s.pace.Spend(n)
	s.stats.Packets++
	s.stats.Bytes += uint64(n)
	emit(pkt)
}

func (s *Sender) drop(reason wire.DropReason) { s.stats.Drops[reason]++ }

func (s *Sender) emitAnnounce(emit func([]byte)) {
	a := wire.Announce{
		Final:     s.final,
		Waiting:   s.paused,
		Rate:      uint64(s.pace.Rate()),
		Chunks:    uint32(s.chunks),
		MaxChunk:  uint32(s.cfg.MaxChunk),
		BlockSize: uint32(s.cfg.BlockSize),
		MaxParity: uint32(s.cfg.MaxParity),
		Members:   uint32(len(s.peerList)),
		LossRef:   wire.LossUnknown,
		Seq:       s.seq,
		Meta:      s.src.Meta(),
	}
	if l, ok := s.src.(leader); ok && s.final {
		a.Lead = uint32(min(max(l.Lead(), 0), s.chunks))
	}
	if s.haveRef {
		a.LossRef = lossWire(s.lossRef)
	}
	if len(a.Meta) > wire.MaxMeta {
		s.log.Error("mcast: meta too large, truncated in announce", "len", len(a.Meta))
		a.Meta = a.Meta[:wire.MaxMeta]
	}
	s.buf = wire.AppendAnnounce(s.buf[:0], s.hdr, &a)
	s.stats.Announces++
	s.send(s.buf, emit)
}

// refreshCount follows a growing source; it reports whether anything changed.
func (s *Sender) refreshCount() bool {
	n, final := s.src.ChunkCount()
	if n < s.chunks {
		n = s.chunks // a source may not shrink; keep what receivers were told
	}
	if n == s.chunks && final == s.final {
		return false
	}
	for len(s.dataNext) < n {
		s.dataNext = append(s.dataNext, 0)
		s.parityNext = append(s.parityNext, 0)
		s.kOf = append(s.kOf, 0)
		s.bursts = append(s.bursts, burst{})
	}
	s.chunks, s.final = n, final
	return true
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() SenderStats {
	st := s.stats
	st.Rate = int64(s.pace.Rate())
	st.Queued = s.repairs.total + s.fulls.total + s.side.total
	if s.cur != nil && s.cur.lane == nil {
		st.Queued += s.cur.remaining
	}
	st.Receivers = len(s.peerList)
	st.LossRef = s.lossRef
	for _, p := range s.peerList {
		if p.Complete {
			st.ReceiversDone++
		}
		if p.Outlier {
			st.Outliers++
		}
	}
	return st
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func lossWire(l float64) uint16 {
	return uint16(min(max(l, 0), 1)*10000 + 0.5)
}
