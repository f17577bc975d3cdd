package mcast

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/congestion"
	"github.com/discuscast/discus/mcast/wire"
)

// Receiver is the receiving side of a session as a state machine: received datagrams
// and the time go in through Handle, requests and reports come out of Poll. It owns no
// goroutine, timer or socket and is not safe for concurrent use.
type Receiver struct {
	cfg        ReceiverConfig
	log        *slog.Logger
	rng        *rand.Rand
	hdr        wire.Header
	epoch      time.Time
	joined     bool
	early      bool     // holding blocks of session hdr.session before its announce
	earlyAsked []uint32 // whole chunks requested by others before we joined
	err        error

	info   SessionInfo
	meta   []byte
	params fec.Params
	kEst   int // blocks of a largest chunk

	done      bitset     // per chunk: delivered
	due       chunkTimes // per chunk of the window: not before this time (ns since epoch) ask for the whole chunk; 0 = unscheduled
	cover     chunkTimes // per chunk: a whole-chunk request sent or heard covers us until then
	nDone     int
	cursor    int
	lead      int        // the final session's last lead chunks (its manifest), 0 = none
	awaitHeld bool       // ask for lead chunks only (AwaitHeld)
	heldBuf   []*partial // deliverHeld's order (reused)
	heldTurn  int        // deliverHeld's turning start
	partials  []*partial
	byChunk   map[uint32]*partial

	pktTime       int64 // ns per data packet at the announced rate
	members       int
	lossRef       float64
	haveRef       bool
	queue         uint32
	queueKnown    bool // a data packet told the sender's backlog since joining
	repairQ       uint32
	lastSeq       uint32
	horizon       uint32 // next data sequence number not yet seen (announced or received)
	hasHorizon    bool
	horizonSus    uint32 // a horizon far ahead, not yet confirmed (advance)
	hasHorizonSus bool
	lastData      int64 // when the latest data packet arrived
	lastAsk       int64 // when the latest request was sent or heard (silentRetryAt)
	held          int   // partials complete but held (partial.held)
	out           int   // partials out for delivery (partial.out): queued for Ready or not yet settled
	ready         []Delivery
	readyOut      []Delivery
	lm            congestion.LossMeter
	rtt           congestion.RTT
	heardBits     [16]uint64 // linear counting of receivers heard, for report spacing

	lastSent   int64
	reportAt   int64
	reportU    float64
	helloSent  bool
	helloNow   bool  // the hello is due without reconsideration (the sender waits)
	reportNow  bool  // a report is due without reconsideration (an ack named us early)
	echoNext   int64 // no such report before this
	acked      bool
	doneAt     int64
	congDue    int64 // a congestion report is due (0 = none)
	congNext   int64 // no congestion report before this
	doneTries  int
	wake       int64
	wakeT      time.Time // wake as a time, returned while nothing changes
	dirty      bool
	buf        []byte
	needs      []wire.Need
	candidates []candidate
	ackBuf     []uint64
	stats      ReceiverStats
	descs      descTracker    // announces that disagree with the session (guard_desc.go)
	rejects    map[uint32]int // chunks Deliver rejected, how often (guard_rebuild.go)

	// Keyed receivers (cfg.Key) follow a sender only once it welcomed them
	// (receiver_welcome.go).
	pros       prospect
	welcomed   bool  // the followed sender welcomed us
	lastSender int64 // when the followed sender was last heard (announce or data)
	rivalNode  uint64
	rivalRun   int // packets in a row from rival (keylessFollow)
	epochOut   uint64
	aborts     abortSeen // a keyless sender's abort packets (receiver_abort.go)
}

// partial is a chunk with some blocks held.
type partial struct {
	chunk      uint32
	chunkLen   uint32
	bs         int // block size of dec (readable while dec is out)
	dec        *fec.Decoder
	last       int64   // last block arrival
	lastSeq    uint32  // its sequence number
	held       bool    // complete, waiting for the code's tables (ReceiverConfig.FECReady) or deferred
	out        bool    // complete and out for delivery: dec belongs to the consumer until Settle
	due        int64   // not before this time (after our request or one we heard)
	u          float64 // random part of the wait after the chunk's blocks stop arriving
	reqAt      int64   // when we last asked, for delay samples
	reqSeq     uint32
	reqQueue   uint32
	sampling   bool
	heard      bool // the sample is timed from a request heard, not sent
	nextParity uint32
	maxParity  uint16
	grew       int64 // when it last gained a block (or was created)
	alt        rivalGeom
	recv       []uint64 // data blocks received (not rebuilt), noted before the first rebuild
}

// ReceiverStats is a snapshot of a Receiver's counters.
type ReceiverStats struct {
	ChunksDone      int
	ChunksTotal     int
	ChunksHeld      int     // of ChunksDone, chunks the consumer already held (Hold), never received
	Bytes           uint64  // bytes of delivered chunks
	Blocks          uint64  // blocks received that were new
	DupBlocks       uint64  // blocks received that were not needed (duplicate or chunk done)
	Lost            uint64  // data packets missed (sequence gaps)
	Loss            float64 // recent loss rate
	Requests        uint64  // request packets sent
	NeedsSent       uint64  // chunk needs in them
	WholeNeeds      uint64  // of those, for whole chunks
	NeedsSuppressed uint64  // needs held back because another receiver asked
	Reports         uint64  // report packets sent (hello, progress, done, congestion)
	CongReports     uint64  // of those, congestion reports
	CongSuppressed  uint64  // congestion reports held back because another receiver sent one
	Corrupt         uint64  // chunks Deliver rejected (fetched again)
	KeptBlocks      uint64  // of their blocks, data blocks kept for the next rebuild
	Deferred        uint64  // deliveries the consumer deferred (ErrDeferred), each retry counted
	SenderPackets   uint64  // announces and data heard from a sender since joining
	Partials        int     // partly received chunks held now (including those out for delivery)
	Out             int     // of those, complete chunks out for delivery (Ready) and not yet settled
	Drops           wire.Drops
	RTT             time.Duration // smoothed request-to-repair delay
	Outlier         bool          // this receiver counts itself an outlier
	SeqOutliers     uint64        // data sequence numbers far outside the expected window, not counted as loss
	AckConflicts    uint64        // acks naming this receiver before it was complete (answered with a report)
	Refused         uint64        // announces the session layer refused (OnSession, OnUpdate errors)
	Readopted       uint64        // times the sender's persistent announces replaced the session's description
	Evicted         uint64        // partial chunks evicted after they stopped progressing, to make room
	LenSwitches     uint64        // partial chunks restarted with another length heard more often than theirs
}

// ErrSession reports a session the receiver cannot take part in.
var ErrSession = errors.New("mcast: unusable session")

// ErrDeferred, given (wrapped or not) to Settle or returned by ReceiverConfig.Deliver,
// means the consumer cannot judge the chunk yet (or has no room for it now): the
// receiver keeps it whole (within maxPartial held chunks) and offers it again after
// the next delivery or a few milliseconds later.
var ErrDeferred = errors.New("mcast: delivery deferred")

// deferPoll is how soon a deferred chunk is offered again.
const deferPoll = int64(5 * time.Millisecond)

// NewReceiver prepares a receiver; it sends nothing until it hears an announce.
func NewReceiver(cfg ReceiverConfig, now time.Time) *Receiver {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.maxPartial <= 0 {
		cfg.maxPartial = 2*cfg.Window + 4
	}
	if cfg.MaxChunks <= 0 {
		cfg.MaxChunks = DefaultMaxChunks
	}
	rng := newRand(cfg.Rand)
	r := &Receiver{
		cfg:     cfg,
		log:     logger(cfg.Logger),
		rng:     rng,
		hdr:     wire.Header{Node: nodeID(cfg.NodeID, rng)},
		epoch:   now,
		byChunk: make(map[uint32]*partial),
		// Room for the longest request and its trailer: OnWire seals in place.
		buf:   make([]byte, 0, wire.MaxReceiverPacket),
		due:   chunkTimes{max: 4*(cfg.Window+cfg.maxPartial) + 64},
		cover: chunkTimes{max: maxCovers},
	}
	r.rtt.Init()
	return r
}

// NodeID is this receiver's node ID on the wire.
func (r *Receiver) NodeID() uint64 { return r.hdr.Node }

// Err returns the fatal error that stopped the receiver, if any.
func (r *Receiver) Err() error { return r.err }

// Complete reports whether every chunk of a final count was delivered.
func (r *Receiver) Complete() bool {
	return r.joined && r.info.Final && r.nDone == r.done.len()
}

// Done reports whether the receiver is complete and the sender acknowledged it.
func (r *Receiver) Done() bool { return r.Complete() && r.acked }

// Session returns what the announce said (zero before joining; Meta is not included).
func (r *Receiver) Session() SessionInfo {
	si := r.info
	si.Meta = nil
	return si
}

func (r *Receiver) ns(t time.Time) int64 { return int64(t.Sub(r.epoch)) }

func (r *Receiver) at(ns int64) time.Time { return r.epoch.Add(time.Duration(ns)) }

func (r *Receiver) fail(err error) { r.err = err; r.log.Error("mcast: receiver stopped", "err", err) }

func (r *Receiver) drop(reason wire.DropReason) { r.stats.Drops[reason]++ }

// Handle takes one received datagram. It never retains or modifies pkt.
func (r *Receiver) Handle(pkt []byte, now time.Time) {
	if r.err != nil {
		return
	}
	h, body, err := wire.ParseHeader(pkt)
	if err != nil {
		r.drop(wire.DropFor(err))
		return
	}
	if h.Node == r.hdr.Node {
		r.drop(wire.DropSelf)
		return
	}
	if r.joined && h.Session != r.hdr.Session || !r.joined && r.cfg.SessionID != ([16]byte{}) && h.Session != r.cfg.SessionID {
		r.drop(wire.DropForeign)
		return
	}
	t := r.ns(now)
	if r.cfg.Key != nil && !r.gate(h, pkt, t) || r.cfg.Key == nil && !r.keylessFollow(h, t) {
		return
	}
	if !r.joined && h.Type == wire.TypeData {
		// Blocks heard before the announce are kept for the first session heard.
		if r.early && h.Session != r.hdr.Session {
			r.drop(wire.DropForeign)
			return
		}
		r.early, r.hdr.Session = true, h.Session
	} else if !r.joined && h.Type == wire.TypeRequest && (!r.early || h.Session == r.hdr.Session) {
		r.earlyRequest(h, body)
		return
	} else if !r.joined && h.Type != wire.TypeAnnounce {
		r.drop(wire.DropEarly)
		return
	}
	switch h.Type {
	case wire.TypeAnnounce:
		a, err := wire.ParseAnnounce(h, body)
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		r.onAnnounce(h, &a, t)
		r.dirty = true
		r.heardSender()
		r.senderAlive(h.Node)
	case wire.TypeData:
		d, err := wire.ParseData(h, body)
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		r.onData(h, &d, t)
		r.heardSender()
		r.senderAlive(h.Node)
	case wire.TypeRequest:
		q, err := wire.ParseRequest(h, body, r.needs[:0])
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		r.onRequest(h, &q, t)
	case wire.TypeReport:
		p, err := wire.ParseReport(h, body)
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		r.onReport(h, &p, t)
	case wire.TypeAck:
		a, err := wire.ParseAck(h, body, r.ackBuf)
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		r.ackBuf = a.Nodes
		for _, id := range a.Nodes {
			if id == r.hdr.Node && r.Complete() && !a.Welcome {
				r.acked = true
			}
		}
		if !a.Welcome {
			r.ackHeard(a.Nodes, t)
		}
	case wire.TypeAbort:
		a, err := wire.ParseAbort(h, body)
		if err != nil {
			r.drop(wire.DropMalformed)
			return
		}
		r.onAbort(h, &a, t)
	}
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() ReceiverStats {
	st := r.stats
	st.ChunksDone = r.nDone
	st.ChunksTotal = r.done.len()
	st.Lost = r.lm.Lost()
	st.Loss = r.lm.Loss()
	st.Partials = len(r.partials)
	st.Out = r.out
	st.RTT = time.Duration(r.rtt.SRTT())
	st.Outlier = r.isOutlier()
	st.SeqOutliers = r.lm.Outliers()
	return st
}

func (r *Receiver) isOutlier() bool {
	if r.lm.Windows() == 0 {
		return false
	}
	if !r.haveRef {
		return r.lm.Loss() > congestion.OutlierNoRef
	}
	return congestion.IsOutlier(r.lm.Loss(), r.lossRef)
}

// heardSender counts a packet from the sender once joined: a session whose sender falls
// silent before any data (it failed on its first chunk) must still time out.
func (r *Receiver) heardSender() {
	if r.joined {
		r.stats.SenderPackets++
	}
}
