package mcast

import (
	"github.com/discuscast/discus/mcast/wire"

	"slices"
	"time"
)

// peer is what the sender knows about one receiver.
type peer struct {
	id          uint64
	first, last time.Time
	lastLoss    time.Time // when loss was last reported
	recent      float64   // loss over the receiver's last window
	done, known uint32
	loss        float64
	complete    bool
	outlier     bool
	ackQueued   bool
	requests    uint64
	reports     uint64
	outstanding int    // blocks queued on its behalf (guard_sender.go)
	doneSeen    uint32 // the horizon of its accepted done report
}

// ReceiverInfo describes one receiver as the sender knows it.
type ReceiverInfo struct {
	NodeID      uint64
	FirstHeard  time.Time
	LastHeard   time.Time
	ChunksDone  int
	ChunksKnown int
	Done        bool    // reported every chunk delivered
	Loss        float64 // last reported loss rate (0..1)
	Outlier     bool    // much lossier or slower than the others: served from the side queue
	Requests    uint64  // request packets heard
	Reports     uint64  // report packets heard
}

// Receivers lists every receiver heard from, in the order first heard.
func (s *Sender) Receivers() []ReceiverInfo {
	out := make([]ReceiverInfo, 0, len(s.peerList))
	for _, p := range s.peerList {
		out = append(out, ReceiverInfo{
			NodeID: p.id, FirstHeard: p.first, LastHeard: p.last,
			ChunksDone: int(p.done), ChunksKnown: int(p.known), Done: p.complete,
			Loss: p.loss, Outlier: p.outlier, Requests: p.requests, Reports: p.reports,
		})
	}
	return out
}

func (s *Sender) heard(id uint64, pr wire.Progress, now time.Time) *peer {
	p := s.peers[id]
	if p == nil && len(s.peerList) >= maxPeers {
		// A flood of invented node IDs must not grow memory without bound: beyond the
		// table's size a newcomer is served but not tracked.
		s.stats.PeersUntracked++
		s.spare = peer{id: id, first: now, outstanding: s.spare.outstanding} // one budget for all of them
		p = &s.spare
	} else if p == nil {
		p = &peer{id: id, first: now}
		s.peers[id] = p
		s.peerList = append(s.peerList, p)
		s.log.Debug("mcast: receiver joined", "node", id)
	}
	p.last = now
	p.done, p.known = pr.Done, pr.Known
	if pr.Loss != wire.LossUnknown {
		p.loss = min(float64(pr.Loss)/10000, 1)
		p.recent = min(float64(pr.Recent)/10000, 1)
		p.lastLoss = now
	}
	return p
}

func (s *Sender) receiverDone(p *peer, pr wire.Progress, now time.Time) {
	if !s.doneValid(pr) {
		// Not every chunk of our final count: not a completion we can believe.
		s.stats.DoneConflicts++
		return
	}
	p.doneSeen = pr.Seen
	if !p.complete {
		p.complete = true
		s.log.Debug("mcast: receiver done", "node", p.id)
	}
	if !p.ackQueued {
		p.ackQueued = true
		if len(s.ackQ) == 0 {
			s.nextAck = now.Add(ackDelay)
		}
		s.ackQ = append(s.ackQ, p.id)
	}
}

func (s *Sender) emitAcks(emit func([]byte)) {
	for len(s.ackQ) > 0 {
		n := min(len(s.ackQ), wire.MaxAckNodes)
		s.buf = wire.AppendAck(s.buf[:0], s.hdr, &wire.Ack{Nodes: s.ackQ[:n]})
		for _, id := range s.ackQ[:n] {
			if p := s.peers[id]; p != nil {
				p.ackQueued = false
			}
		}
		s.ackQ = s.ackQ[n:]
		s.stats.Acks++
		s.send(s.buf, emit)
	}
	s.ackQ = s.ackQ[:0]
}

// isOutlier is the one rule both sides use: a receiver whose loss is well above the
// median of all receivers is served from the side queue and ignored by rate control.
func isOutlier(loss, ref float64) bool {
	return loss > max(2*ref, ref+0.05)
}

// maxPeers bounds the receiver table.
const maxPeers = 1 << 16

// outlierNoRef is the loss that marks an outlier before any reference exists.
const outlierNoRef = 0.25

// outlier classifies a receiver from its latest report (not waiting for the next tick,
// so a slow receiver's first huge deficits do not reach the main queue).
func (s *Sender) outlier(p *peer) bool {
	if p.lastLoss.IsZero() {
		return false
	}
	if !s.haveRef {
		return p.loss > outlierNoRef
	}
	p.outlier = len(s.peerList) > 1 && isOutlier(p.loss, s.lossRef)
	return p.outlier
}

// tick runs the periodic work: the median loss, outlier marks, rate control.
func (s *Sender) tick(now time.Time) {
	window := s.refWindow()
	losses := s.rc.scratch[:0]
	active := 0
	for _, p := range s.peerList {
		if p.complete || now.Sub(p.last) > window {
			continue
		}
		active++
		if !p.lastLoss.IsZero() && now.Sub(p.lastLoss) <= window {
			losses = append(losses, p.loss)
		}
	}
	// The median speaks for the receivers only once most of those at work have measured
	// their loss: early on, the first to report is often the one in trouble (it has the
	// most to ask), and as the only figure it would never count as an outlier and would
	// drag the rate down for everyone. Until then the absolute outlierNoRef applies.
	if len(losses) > 0 && 2*len(losses) >= active {
		slices.Sort(losses)
		if !s.haveRef {
			s.nextAnnounce = now // receivers classify themselves by it: tell them soon
		}
		s.lossRef, s.haveRef = losses[(len(losses)-1)/2], true
	}
	s.rc.scratch = losses
	for _, p := range s.peerList {
		// An old report says nothing about now: only a receiver that recently reported
		// much more loss than the others is an outlier.
		fresh := !p.lastLoss.IsZero() && now.Sub(p.lastLoss) <= window
		switch {
		case !fresh:
			p.outlier = false
		case !s.haveRef:
			p.outlier = active > 1 && p.loss > outlierNoRef
		default:
			p.outlier = len(losses) > 1 && isOutlier(p.loss, s.lossRef)
		}
	}
	s.rc.tick(now)
}

// refWindow is how old a receiver's last loss report may be and still count towards
// the median. Healthy receivers have little to ask and report only at the spaced
// interval of receiver_timing.go, which grows as the rate falls; a fixed window would
// forget them and leave a lone struggling receiver to set the median, so that it
// would never count as an outlier and would drag the rate down for everyone.
func (s *Sender) refWindow() time.Duration {
	pktRate := s.pace.rate / float64(s.pktLen)
	n := float64(len(s.peerList) + 1)
	interval := time.Duration(maxReportInterval)
	if pktRate > 0 {
		interval = min(max(time.Duration(n/(reportShare*pktRate)*float64(time.Second)),
			time.Duration(minReportInterval)), time.Duration(maxReportInterval))
	}
	// Receivers draw their interval from 0.5 to 1.5 times the nominal one.
	return max(minRefWindow, 2*interval)
}
