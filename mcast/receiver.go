package mcast

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/discuscast/discus/fec"
)

// Receiver is the receiving side of a session as a state machine: received datagrams
// and the time go in through Handle, requests and reports come out of Poll. It owns no
// goroutine, timer or socket and is not safe for concurrent use.
type Receiver struct {
	cfg        ReceiverConfig
	log        *slog.Logger
	rng        *rand.Rand
	hdr        header
	epoch      time.Time
	joined     bool
	early      bool     // holding blocks of session hdr.session before its announce
	earlyAsked []uint32 // whole chunks requested by others before we joined
	err        error

	info   SessionInfo
	meta   []byte
	params fec.Params
	kEst   int // blocks of a largest chunk

	done     []bool
	due      []int64 // per chunk: not before this time (ns since epoch) ask for the whole chunk; 0 = unscheduled
	cover    []int64 // per chunk: a whole-chunk request sent or heard covers us until then
	nDone    int
	cursor   int
	partials []*partial
	byChunk  map[uint32]*partial

	pktTime    int64 // ns per data packet at the announced rate
	members    int
	lossRef    float64
	haveRef    bool
	queue      uint32
	queueKnown bool // a data packet told the sender's backlog since joining
	repairQ    uint32
	lastSeq    uint32
	lm         lossMeter
	rtt        rttEstimator
	heardBits  [16]uint64 // linear counting of receivers heard, for report spacing

	lastSent   int64
	reportAt   int64
	reportU    float64
	helloSent  bool
	acked      bool
	doneAt     int64
	doneTries  int
	wake       int64
	wakeT      time.Time // wake as a time, returned while nothing changes
	dirty      bool
	buf        []byte
	needs      []need
	candidates []candidate
	ackBuf     []uint64
	stats      ReceiverStats
}

// partial is a chunk with some blocks held.
type partial struct {
	chunk      uint32
	chunkLen   uint32
	dec        *fec.Decoder
	last       int64   // last block arrival
	due        int64   // not before this time (after our request or one we heard)
	u          float64 // random part of the wait after the chunk's blocks stop arriving
	reqAt      int64   // when we last asked, for delay samples
	reqSeq     uint32
	reqQueue   uint32
	sampling   bool
	nextParity uint32
	maxParity  uint16
}

// ReceiverStats is a snapshot of a Receiver's counters.
type ReceiverStats struct {
	ChunksDone      int
	ChunksTotal     int
	Bytes           uint64  // bytes of delivered chunks
	Blocks          uint64  // blocks received that were new
	DupBlocks       uint64  // blocks received that were not needed (duplicate or chunk done)
	Lost            uint64  // data packets missed (sequence gaps)
	Loss            float64 // recent loss rate
	Requests        uint64  // request packets sent
	NeedsSent       uint64  // chunk needs in them
	WholeNeeds      uint64  // of those, for whole chunks
	NeedsSuppressed uint64  // needs held back because another receiver asked
	Reports         uint64  // report packets sent (hello, progress, done)
	Corrupt         uint64  // chunks Deliver rejected (fetched again)
	Partials        int     // partly received chunks held now
	Drops           Drops
	RTT             time.Duration // smoothed request-to-repair delay
	Outlier         bool          // this receiver counts itself an outlier
}

// ErrSession reports a session the receiver cannot take part in.
var ErrSession = errors.New("mcast: unusable session")

// NewReceiver prepares a receiver; it sends nothing until it hears an announce.
func NewReceiver(cfg ReceiverConfig, now time.Time) *Receiver {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxPartial <= 0 {
		cfg.MaxPartial = 2*cfg.Window + 4
	}
	rng := newRand(cfg.Rand)
	r := &Receiver{
		cfg:     cfg,
		log:     logger(cfg.Logger),
		rng:     rng,
		hdr:     header{node: nodeID(cfg.NodeID, rng)},
		epoch:   now,
		byChunk: make(map[uint32]*partial),
	}
	r.rtt.init()
	return r
}

// NodeID is this receiver's node ID on the wire.
func (r *Receiver) NodeID() uint64 { return r.hdr.node }

// Err returns the fatal error that stopped the receiver, if any.
func (r *Receiver) Err() error { return r.err }

// Complete reports whether every chunk of a final count was delivered.
func (r *Receiver) Complete() bool {
	return r.joined && r.info.Final && r.nDone == len(r.done)
}

// Done reports whether the receiver is complete and the sender acknowledged it.
func (r *Receiver) Done() bool { return r.Complete() && r.acked }

// Session returns what the announce said (zero before joining; Meta is not included).
func (r *Receiver) Session() SessionInfo {
	si := r.info
	si.Meta = nil
	return si
}

func (r *Receiver) ns(t time.Time) int64   { return int64(t.Sub(r.epoch)) }
func (r *Receiver) at(ns int64) time.Time  { return r.epoch.Add(time.Duration(ns)) }
func (r *Receiver) fail(err error)         { r.err = err; r.log.Error("mcast: receiver stopped", "err", err) }
func (r *Receiver) drop(reason DropReason) { r.stats.Drops[reason]++ }

// Handle takes one received datagram. It never retains or modifies pkt.
func (r *Receiver) Handle(pkt []byte, now time.Time) {
	if r.err != nil {
		return
	}
	h, body, err := parseHeader(pkt)
	if err != nil {
		r.drop(parseDrop(err))
		return
	}
	if h.node == r.hdr.node {
		r.drop(DropSelf)
		return
	}
	if r.joined && h.session != r.hdr.session || !r.joined && r.cfg.SessionID != ([16]byte{}) && h.session != r.cfg.SessionID {
		r.drop(DropForeign)
		return
	}
	if !r.joined && h.typ == typeData {
		// Blocks heard before the announce are kept for the first session heard.
		if r.early && h.session != r.hdr.session {
			r.drop(DropForeign)
			return
		}
		r.early, r.hdr.session = true, h.session
	} else if !r.joined && h.typ == typeRequest && (!r.early || h.session == r.hdr.session) {
		r.earlyRequest(h, body)
		return
	} else if !r.joined && h.typ != typeAnnounce {
		r.drop(DropEarly)
		return
	}
	t := r.ns(now)
	switch h.typ {
	case typeAnnounce:
		a, err := parseAnnounce(h, body)
		if err != nil {
			r.drop(DropMalformed)
			return
		}
		r.onAnnounce(h, &a, t)
		r.dirty = true
	case typeData:
		d, err := parseData(h, body)
		if err != nil {
			r.drop(DropMalformed)
			return
		}
		r.onData(h, &d, t)
	case typeRequest:
		q, err := parseRequest(h, body, r.needs[:0])
		if err != nil {
			r.drop(DropMalformed)
			return
		}
		r.onRequest(h, &q, t)
	case typeReport:
		if _, err := parseReport(h, body); err != nil {
			r.drop(DropMalformed)
			return
		}
		r.heardNode(h.node)
	case typeAck:
		a, err := parseAck(h, body, r.ackBuf)
		if err != nil {
			r.drop(DropMalformed)
			return
		}
		r.ackBuf = a.nodes
		for _, id := range a.nodes {
			if id == r.hdr.node && r.Complete() {
				r.acked = true
			}
		}
	}
}

func (r *Receiver) onAnnounce(h header, a *announce, t int64) {
	p := fec.Params{BlockSize: int(a.blockSize), MaxParity: int(a.maxParity)}
	if a.maxChunk > MaxChunkLimit || p.Validate(int(a.maxChunk)) != nil {
		r.drop(DropMalformed)
		return
	}
	if !r.joined {
		r.join(h, a, p, t)
		return
	}
	if int(a.blockSize) != r.info.BlockSize || int(a.maxParity) != r.info.MaxParity || int(a.maxChunk) != r.info.MaxChunk {
		// Same session, different code: not a sender we can use.
		r.drop(DropMalformed)
		return
	}
	if h.node != r.info.Sender {
		r.senderChanged(h.node, t)
	}
	r.session(a)
	changed := r.grow(int(a.chunks))
	if a.final && !r.info.Final {
		r.info.Final, changed = true, true
	}
	if string(a.meta) != string(r.meta) {
		r.meta, changed = append(r.meta[:0], a.meta...), true
	}
	if changed {
		r.dirty = true
		if r.cfg.OnUpdate != nil {
			if err := r.cfg.OnUpdate(r.sessionInfo()); err != nil {
				r.fail(fmt.Errorf("%w: %w", ErrSession, err))
			}
		}
		r.checkComplete(t)
	}
}

func (r *Receiver) join(h header, a *announce, p fec.Params, t int64) {
	if r.early && h.session != r.hdr.session {
		for len(r.partials) > 0 {
			r.removePartial(r.partials[0])
		}
	}
	r.joined = true
	r.hdr.session = h.session
	r.params = p
	r.kEst = p.Blocks(int(a.maxChunk))
	r.info = SessionInfo{SessionID: h.session, Sender: h.node, BlockSize: int(a.blockSize),
		MaxParity: int(a.maxParity), MaxChunk: int(a.maxChunk), Final: a.final}
	r.meta = append(r.meta[:0], a.meta...)
	r.session(a)
	r.grow(int(a.chunks))
	if len(r.done) > 0 {
		r.cursor = r.rng.IntN(len(r.done))
	}
	r.lastSent = t
	r.reportU = 0.5 + r.rng.Float64()
	r.reportAt = t + int64(float64(minReportInterval/2)*r.reportU)
	r.dirty = true
	r.log.Debug("mcast: joined session", "sender", h.node, "chunks", a.chunks, "final", a.final)
	if r.cfg.OnSession != nil {
		if err := r.cfg.OnSession(r.sessionInfo()); err != nil {
			r.fail(fmt.Errorf("%w: %w", ErrSession, err))
			return
		}
	}
	r.adoptEarly(t)
	for _, c := range r.earlyAsked {
		if int(c) < len(r.cover) {
			r.cover[c] = t + r.rtoFull() + r.jitterFor(c)
		}
	}
	r.earlyAsked = nil
	r.checkComplete(t)
}

// session takes the announce's soft state: rate, membership, loss reference.
func (r *Receiver) session(a *announce) {
	r.info.Rate = int64(a.rate)
	if a.rate > 0 {
		r.pktTime = int64(float64(headerLen+dataBody+r.info.BlockSize) / float64(a.rate) * 1e9)
	}
	r.members = int(a.members)
	r.haveRef = a.lossRef != lossUnknown
	if r.haveRef {
		r.lossRef = min(float64(a.lossRef)/10000, 1)
	}
}

func (r *Receiver) sessionInfo() SessionInfo {
	si := r.info
	si.Chunks = len(r.done)
	si.Meta = r.meta
	return si
}

// grow extends the per-chunk state to n chunks (a streaming sender's count grows).
func (r *Receiver) grow(n int) bool {
	if n <= len(r.done) {
		return false
	}
	r.done = append(r.done, make([]bool, n-len(r.done))...)
	r.due = append(r.due, make([]int64, n-len(r.due))...)
	r.cover = append(r.cover, make([]int64, n-len(r.cover))...)
	r.info.Chunks = n
	return true
}

// senderChanged follows a replacement sender: its queue is empty, so every need is
// asked for again; blocks already held stay (the code depends only on the chunk).
func (r *Receiver) senderChanged(node uint64, t int64) {
	r.log.Debug("mcast: new sender", "old", r.info.Sender, "new", node)
	r.info.Sender = node
	r.lm.reset()
	clear(r.due)
	clear(r.cover)
	r.queueKnown = false
	for _, p := range r.partials {
		p.due = 0
		p.sampling = false
	}
	r.acked = false
	r.doneAt = t
	r.dirty = true
}

// onData places one block. Before the receiver joined (it missed the announce) blocks
// are kept too: a data packet carries all the code needs, and the chunks rebuilt are
// delivered once the announce arrives.
func (r *Receiver) onData(h header, d *data, t int64) {
	c := d.chunk
	if r.joined {
		if h.node != r.info.Sender {
			r.senderChanged(h.node, t)
		}
		r.lm.add(d.seq)
		r.lastSeq = d.seq
		r.queue, r.repairQ = d.queue, d.repairQueue
		if !r.queueKnown {
			r.learnQueue(t)
		}
		switch {
		case int(c) >= len(r.done):
			r.drop(DropRange)
			return
		case d.chunkLen > uint32(r.info.MaxChunk) || len(d.payload) != r.info.BlockSize || int(d.maxParity) != r.info.MaxParity:
			r.drop(DropMalformed)
			return
		case r.done[c]:
			r.stats.DupBlocks++
			return
		}
	} else if d.chunkLen > MaxChunkLimit {
		r.drop(DropMalformed)
		return
	}
	p := r.byChunk[c]
	if p == nil {
		if len(r.partials) >= r.cfg.MaxPartial {
			r.drop(DropWindow)
			return
		}
		dec, err := fec.NewDecoder(fec.Params{BlockSize: len(d.payload), MaxParity: int(d.maxParity)}, int(d.chunkLen))
		if err != nil {
			r.drop(DropMalformed)
			return
		}
		p = &partial{chunk: c, chunkLen: d.chunkLen, dec: dec, maxParity: d.maxParity, u: r.rng.Float64()}
		r.partials = append(r.partials, p)
		r.byChunk[c] = p
		r.dirty = true
	}
	if d.chunkLen != p.chunkLen || d.maxParity != p.maxParity || len(d.payload) != p.dec.BlockSize() ||
		int(d.block) >= p.dec.K()+p.dec.M() {
		r.drop(DropRange)
		return
	}
	have := p.dec.Have()
	complete, err := p.dec.Add(int(d.block), d.payload)
	if err != nil {
		r.drop(DropMalformed)
		return
	}
	p.last = t
	if p.dec.Have() == have {
		r.stats.DupBlocks++
		return
	}
	r.stats.Blocks++
	if k := uint32(p.dec.K()); d.block >= k && d.block-k+1 > p.nextParity {
		p.nextParity = d.block - k + 1
	}
	if p.sampling && int32(d.seq-p.reqSeq) > 0 {
		p.sampling = false
		r.rtt.sample(t-p.reqAt-int64(p.reqQueue)*r.pktTime, t-p.reqAt)
	}
	if complete && r.joined {
		r.deliver(p, t)
	}
}

// earlyRequest remembers the whole chunks others asked for before we joined, so we do
// not ask again (a receiver that missed the first announce would otherwise repeat
// everyone's requests).
func (r *Receiver) earlyRequest(h header, body []byte) {
	q, err := parseRequest(h, body, r.needs[:0])
	if err != nil {
		r.drop(DropMalformed)
		return
	}
	for _, n := range q.needs {
		if n.missing == 0 && len(r.earlyAsked) < 4096 && !q.outlier {
			r.earlyAsked = append(r.earlyAsked, n.chunk)
		}
	}
	r.drop(DropEarly)
}

// learnQueue extends the cover of whole-chunk requests made before the sender's
// backlog was known: they are served in turn, after everything queued.
func (r *Receiver) learnQueue(t int64) {
	r.queueKnown = true
	rto := r.rtoFull()
	for c, v := range r.cover {
		if v > 0 {
			r.cover[c] = max(v, t+rto+r.jitterFor(uint32(c)))
		}
	}
	r.dirty = true
}

// adoptEarly keeps the blocks gathered before joining that fit the session, and
// delivers the chunks they completed.
func (r *Receiver) adoptEarly(t int64) {
	for _, p := range append([]*partial(nil), r.partials...) {
		if int(p.chunk) >= len(r.done) || p.dec.BlockSize() != r.info.BlockSize ||
			int(p.maxParity) != r.info.MaxParity || int(p.chunkLen) > r.info.MaxChunk {
			r.removePartial(p)
			continue
		}
		if p.dec.Complete() {
			r.deliver(p, t)
			if r.err != nil {
				return
			}
		}
	}
}

func (r *Receiver) deliver(p *partial, t int64) {
	b, err := p.dec.Bytes()
	if err == nil && r.cfg.Deliver != nil {
		err = r.cfg.Deliver(int(p.chunk), b)
	}
	if err != nil {
		r.stats.Corrupt++
		r.log.Warn("mcast: chunk rejected, fetching again", "chunk", p.chunk, "err", err)
		p.dec.Reset()
		p.due = 0
		r.dirty = true
		return
	}
	r.stats.Bytes += uint64(p.chunkLen)
	r.done[p.chunk] = true
	r.nDone++
	r.removePartial(p)
	r.dirty = true
	r.checkComplete(t)
}

func (r *Receiver) removePartial(p *partial) {
	delete(r.byChunk, p.chunk)
	for i, q := range r.partials {
		if q == p {
			last := len(r.partials) - 1
			r.partials[i] = r.partials[last]
			r.partials[last] = nil
			r.partials = r.partials[:last]
			return
		}
	}
}

func (r *Receiver) checkComplete(t int64) {
	if r.Complete() && r.doneTries == 0 && r.doneAt <= t {
		r.doneAt = t
		r.dirty = true
	}
}

// onRequest hears another receiver's request: needs it covers are held back.
func (r *Receiver) onRequest(h header, q *request, t int64) {
	r.heardNode(h.node)
	if q.outlier && !r.isOutlier() {
		return // served from the side queue: does not cover us
	}
	for _, n := range q.needs {
		c := n.chunk
		if int(c) >= len(r.done) || r.done[c] {
			continue
		}
		p := r.byChunk[c]
		if n.missing == 0 {
			r.cover[c] = max(r.cover[c], t+r.rtoFull()+r.jitterFor(c))
			if p != nil {
				r.suppress(p, t+r.rtoFull())
			}
			continue
		}
		if p != nil && p.dec.Missing() <= int(n.missing) {
			r.suppress(p, t+r.rtoPartial(int(n.missing)))
		}
	}
}

func (r *Receiver) suppress(p *partial, until int64) {
	if until > p.due {
		p.due = until
		r.stats.NeedsSuppressed++
	}
}

// heardNode counts receivers heard (linear counting in 1024 bits), for report spacing.
func (r *Receiver) heardNode(id uint64) {
	h := (id * 0x9e3779b97f4a7c15) >> 54
	r.heardBits[h>>6] |= 1 << (h & 63)
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() ReceiverStats {
	st := r.stats
	st.ChunksDone = r.nDone
	st.ChunksTotal = len(r.done)
	st.Lost = r.lm.lostTotal
	st.Loss = r.lm.loss
	st.Partials = len(r.partials)
	st.RTT = time.Duration(r.rtt.srtt)
	st.Outlier = r.isOutlier()
	return st
}

func (r *Receiver) isOutlier() bool {
	if r.lm.windows == 0 {
		return false
	}
	if !r.haveRef {
		return r.lm.loss > outlierNoRef
	}
	return isOutlier(r.lm.loss, r.lossRef)
}
