package mcast

import (
	"math"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/wire"
)

// job is queued work for one chunk: a whole chunk (full) or a number of fresh blocks.
type job struct {
	chunk     uint32
	full      bool
	remaining int      // blocks still to send; -1 = a whole chunk not yet loaded (K unknown)
	lane      *lane    // the lane holding the job
	charges   []charge // what each requesting node added (guard_sender.go)
}

// lane is a FIFO of jobs with at most one job per chunk. total is the sum of remaining
// blocks (estimated for unloaded chunks), so data packets can tell receivers the backlog.
type lane struct {
	q       []*job
	head    int
	byChunk map[uint32]*job
	total   int
	est     int // blocks assumed for a job with remaining -1
}

func (l *lane) init() { l.byChunk = make(map[uint32]*job) }

func (l *lane) len() int { return len(l.q) - l.head }

func (l *lane) front() *job {
	if l.head < len(l.q) {
		return l.q[l.head]
	}
	return nil
}

func (l *lane) push(j *job) {
	j.lane = l
	l.q = append(l.q, j)
	l.byChunk[j.chunk] = j
	l.total += l.blocks(j)
}

// popFront removes the front job (the one being served).
func (l *lane) popFront() {
	j := l.q[l.head]
	l.q[l.head] = nil
	l.head++
	if l.head > 64 && l.head*2 > len(l.q) {
		n := copy(l.q, l.q[l.head:])
		clear(l.q[n:])
		l.q = l.q[:n]
		l.head = 0
	}
	delete(l.byChunk, j.chunk)
	l.total -= l.blocks(j)
	j.lane = nil
	release(j)
}

// remove takes a job out wherever it is (rare: a main job supersedes a side job).
func (l *lane) remove(j *job) {
	for i := l.head; i < len(l.q); i++ {
		if l.q[i] == j {
			l.total -= l.blocks(j)
			copy(l.q[i:], l.q[i+1:])
			l.q[len(l.q)-1] = nil
			l.q = l.q[:len(l.q)-1]
			delete(l.byChunk, j.chunk)
			j.lane = nil
			release(j)
			return
		}
	}
}

func (l *lane) blocks(j *job) int {
	if j.remaining < 0 {
		return l.est
	}
	return j.remaining
}

func (l *lane) setRemaining(j *job, n int) {
	l.total += n - l.blocks(j)
	j.remaining = n
}

func (s *Sender) kEstimate(c uint32) int {
	if k := s.kOf[c]; k > 0 {
		return int(k)
	}
	return s.params.Blocks(s.cfg.MaxChunk)
}

// findMain returns the main-queue job for chunk c, if any.
func (s *Sender) findMain(c uint32) *job {
	if j := s.repairs.byChunk[c]; j != nil {
		return j
	}
	return s.fulls.byChunk[c]
}

// addNeed folds one requested need into the work queues: no chunk is queued twice, a
// partial need raises the job to the largest deficit, and a whole-chunk need absorbs
// partial ones. Needs of outlier receivers go to the side lane unless the main queue
// covers them already.
func (s *Sender) addNeed(n wire.Need, outlier bool, p *peer) {
	if int(n.Chunk) >= s.chunks {
		s.stats.Drops[wire.DropRange]++
		return
	}
	if p != nil && p.outstanding >= s.peerBudget() {
		s.stats.NeedsOverBudget++ // this node has its share queued already
		return
	}
	c := n.Chunk
	s.applyHint(c, n.NextParity)
	blocks := -1
	if j := s.findMain(c); n.Missing > 0 && (j == nil || !j.full) {
		// Never more than the chunk's K, nor more than one K (plus margin) of repairs
		// per round for the chunk, whoever asks.
		k := s.kEstimate(c)
		blocks = min(s.withMargin(min(int(n.Missing), k)), s.repairRoom(c, k))
		if blocks <= 0 {
			s.stats.NeedsOverBudget++
			return
		}
	} else if n.Missing > 0 {
		blocks = 1 // absorbed by the whole chunk queued
	}
	before := s.queued()
	defer func() { s.charge(p, c, s.queued()-before) }()
	if outlier {
		if s.findMain(c) != nil {
			s.stats.NeedsMerged++
			return
		}
		s.merge(&s.side, &s.side, c, blocks)
		return
	}
	if j := s.side.byChunk[c]; j != nil && j != s.curSide {
		s.side.remove(j)
	}
	if blocks < 0 {
		s.merge(&s.repairs, &s.fulls, c, -1)
	} else {
		s.merge(&s.repairs, &s.fulls, c, blocks)
	}
}

// merge adds a need to a queue made of a repair lane and a whole-chunk lane (the same
// lane for the side queue). blocks < 0 means the whole chunk.
func (s *Sender) merge(repairs, fulls *lane, c uint32, blocks int) {
	j := repairs.byChunk[c]
	if j == nil {
		j = fulls.byChunk[c]
	}
	if j == nil && s.cur != nil && s.cur.chunk == c && s.cur.lane != nil && (s.cur.lane == repairs || s.cur.lane == fulls) {
		j = s.cur
	}
	if j != nil {
		s.stats.NeedsMerged++
		switch {
		case j.full:
		case blocks < 0:
			j.full = true
			j.lane.setRemaining(j, max(j.remaining, s.kEstimate(c)))
		case blocks > j.remaining:
			j.lane.setRemaining(j, blocks)
		}
		return
	}
	if blocks < 0 {
		fulls.est = s.params.Blocks(s.cfg.MaxChunk)
		fulls.push(&job{chunk: c, full: true, remaining: -1})
		return
	}
	repairs.push(&job{chunk: c, remaining: blocks})
}

// fecWait reports whether parity for chunk c would have to wait for the large code's
// tables (SenderConfig.FECReady).
func (s *Sender) fecWait(c uint32) bool {
	return s.cfg.FECReady != nil && s.params.NeedsTables(s.kEstimate(c)) && !s.cfg.FECReady()
}

// withMargin adds the parity the requester will probably lose on the way, so one round
// of repair usually suffices.
func (s *Sender) withMargin(d int) int {
	lost := float64(d) * s.lossRef
	return d + 1 + int(math.Ceil(1.5*lost+2*math.Sqrt(lost)))
}

// applyHint skips parity indexes a receiver already holds (from a previous sender), so a
// replacement sender's repairs are fresh too.
func (s *Sender) applyHint(c uint32, next uint32) {
	if next > s.parityNext[c] && next <= fec.MaxBlocks*2 {
		s.parityNext[c] = next
	}
}

func (s *Sender) hasWork() bool {
	return s.cur != nil || s.curSide != nil || s.repairs.len() > 0 || s.fulls.len() > 0 || s.side.len() > 0
}

// pickJob chooses whose block goes next: the main queue (repairs before whole chunks,
// never preempting a job in progress), with a small share for the side queue, which
// gets everything once the main queue is empty.
func (s *Sender) pickJob() (j *job, side bool) {
	if s.cur == nil {
		s.cur = s.repairs.front()
		if f := s.fulls.front(); s.cur != nil && f != nil && s.repairRun >= s.params.Blocks(s.cfg.MaxChunk) {
			// Repairs go first, but never for ever: after a chunk's worth of repair
			// blocks sent while a whole chunk waited, the oldest whole chunk goes.
			// Without it an endless stream of repair requests (forged, without a key)
			// would starve every receiver that still needs whole chunks.
			s.cur = f
		}
		if s.cur != nil && s.cur.lane == &s.fulls {
			s.repairRun = 0
		} else if s.cur != nil && s.fecWait(s.cur.chunk) {
			if f := s.fulls.front(); f != nil {
				s.cur = f // the repair waits for the code's tables; data goes meanwhile
			}
		}
		if s.cur == nil {
			s.cur = s.fulls.front()
		}
	}
	if s.curSide == nil {
		s.curSide = s.side.front()
	}
	switch {
	case s.curSide != nil && (s.cur == nil || s.sideCredit >= 1):
		if s.cur != nil {
			s.sideCredit--
		}
		return s.curSide, true
	case s.cur != nil:
		if s.curSide != nil {
			s.sideCredit = min(s.sideCredit+s.cfg.sideShare, 2)
		}
		return s.cur, false
	}
	return nil, false
}

// nextPacket builds the next data packet, or returns nil if there is no work.
func (s *Sender) nextPacket() []byte {
	for {
		j, side := s.pickJob()
		if j == nil {
			return nil
		}
		enc := s.encoder(j.chunk)
		if enc == nil {
			s.finish(j, side)
			continue
		}
		if j.remaining < 0 {
			j.lane.setRemaining(j, enc.K())
		}
		idx := s.nextIndex(j.chunk, enc.K(), enc.M(), j.full)
		blk, err := enc.Block(idx)
		if err != nil {
			s.log.Error("mcast: fec block", "chunk", j.chunk, "block", idx, "err", err)
			s.finish(j, side)
			continue
		}
		if !j.full {
			s.noteRepair(j.chunk, enc.K())
		}
		if j.lane == &s.repairs && s.fulls.len() > 0 {
			s.repairRun++
		}
		j.lane.setRemaining(j, j.remaining-1)
		if j.remaining <= 0 {
			s.finish(j, side)
		}
		if idx < enc.K() {
			s.stats.DataBlocks++
		} else {
			s.stats.ParityBlocks++
		}
		if side {
			s.stats.SideBlocks++
		}
		d := wire.Data{
			Side:        side,
			Seq:         s.seq,
			Chunk:       j.chunk,
			ChunkLen:    uint32(enc.Len()),
			Block:       uint32(idx),
			Queue:       uint32(s.repairs.total + s.fulls.total),
			RepairQueue: uint32(s.repairAhead()),
			MaxParity:   uint16(s.cfg.MaxParity),
			Payload:     blk,
		}
		s.bursts[j.chunk].note(s.seq)
		s.seq++
		s.buf = wire.AppendData(s.buf[:0], s.hdr, &d)
		return s.buf
	}
}

// repairAhead is how many blocks a repair requested now would wait behind.
func (s *Sender) repairAhead() int {
	n := s.repairs.total
	if s.cur != nil && s.cur.lane == &s.fulls {
		n += s.cur.remaining
	}
	return n
}

func (s *Sender) finish(j *job, side bool) {
	if side {
		s.side.popFront()
		s.curSide = nil
		return
	}
	j.lane.popFront()
	s.cur = nil
}

// nextIndex picks the next fresh block of chunk c. A whole-chunk job sends the data
// blocks once; after that, and for every repair (whose requesters hold some unknown
// subset of the data), it sends parity 0, 1, ..., M-1, never repeating an index. Only
// when all M are used does it recycle blocks, data and parity in turn.
func (s *Sender) nextIndex(c uint32, k, m int, whole bool) int {
	d, p := int(s.dataNext[c]), int(s.parityNext[c])
	switch {
	case whole && d < k:
		s.dataNext[c]++
		return d
	case p < m:
		s.parityNext[c]++
		return k + p
	}
	r := max(d-k, 0) % (k + m)
	s.dataNext[c] = uint32(k + r + 1)
	return r
}
