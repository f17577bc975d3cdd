package mcast

import (
	"net/netip"
	"time"

	"github.com/discuscast/discus/mcast/congestion"
	"github.com/discuscast/discus/mcast/wire"
)

// peer is what the sender knows about one receiver.
type peer struct {
	congestion.Peer // Last, LastLoss, Recent, Complete, Outlier: what rate control reads
	id              uint64
	first           time.Time
	done, known     uint32
	loss            float64
	ackQueued       bool
	requests        uint64
	reports         uint64
	outstanding     int            // blocks queued on its behalf (guard_sender.go)
	doneSeen        uint32         // the horizon of its accepted done report
	addr            netip.AddrPort // where its latest packet came from (HandleFrom), zero if unknown
	alias           uint64         // the alias its reports carry, 0 = none
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
	// Addr is the source address of its latest packet, zero when the transport
	// does not tell (Sender.HandleFrom). Without a key it is what the packet claims.
	Addr netip.AddrPort
	// Alias is the alias its reports carry (ReceiverConfig.Alias), 0 = none: receivers
	// with the same alias are one receiver started again (session: the later one
	// replaces the earlier).
	Alias uint64
}

// Receivers lists every receiver heard from, in the order first heard.
func (s *Sender) Receivers() []ReceiverInfo {
	out := make([]ReceiverInfo, 0, len(s.peerList))
	for _, p := range s.peerList {
		out = append(out, ReceiverInfo{
			NodeID: p.id, FirstHeard: p.first, LastHeard: p.Last,
			ChunksDone: int(p.done), ChunksKnown: int(p.known), Done: p.Complete,
			Loss: p.loss, Outlier: p.Outlier, Requests: p.requests, Reports: p.reports, Addr: p.addr,
			Alias: p.alias,
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
	p.Last = now
	if s.from.IsValid() {
		p.addr = s.from
	}
	p.done, p.known = pr.Done, pr.Known
	if pr.Loss != wire.LossUnknown {
		p.loss = min(float64(pr.Loss)/10000, 1)
		p.Recent = min(float64(pr.Recent)/10000, 1)
		p.LastLoss = now
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
	if !p.Complete {
		p.Complete = true
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

// maxPeers bounds the receiver table.
const maxPeers = 1 << 16

// outlier classifies a receiver from its latest report (not waiting for the next tick,
// so a slow receiver's first huge deficits do not reach the main queue).
func (s *Sender) outlier(p *peer) bool {
	if p.LastLoss.IsZero() {
		return false
	}
	p.Outlier = congestion.MarkOutlier(p.loss, s.lossRef, s.haveRef, len(s.peerList)-1)
	return p.Outlier
}

// tick runs the periodic work: the median loss, outlier marks, rate control.
func (s *Sender) tick(now time.Time) {
	window := s.refWindow()
	losses := s.lossScratch[:0]
	active := 0
	for _, p := range s.peerList {
		if p.Complete || now.Sub(p.Last) > window {
			continue
		}
		active++
		if !p.LastLoss.IsZero() && now.Sub(p.LastLoss) <= window {
			losses = append(losses, p.loss)
		}
	}
	if ref, ok := congestion.MedianLoss(losses, active); ok {
		if !s.haveRef {
			s.nextAnnounce = now // receivers classify themselves by it: tell them soon
		}
		s.lossRef, s.haveRef = ref, true
	}
	s.lossScratch = losses
	for _, p := range s.peerList {
		// An old report says nothing about now: only a receiver that recently reported
		// much more loss than the others is an outlier.
		fresh := !p.LastLoss.IsZero() && now.Sub(p.LastLoss) <= window
		others := len(losses) - 1 // the median's other voices
		if !s.haveRef {
			others = active - 1
		}
		p.Outlier = fresh && congestion.MarkOutlier(p.loss, s.lossRef, s.haveRef, others)
	}
	rate, adapt := s.rc.Tick(congestion.Input{
		Now: now, Rate: s.pace.Rate(), Sent: s.stats.Bytes,
		Adapt: !s.cfg.FixedRate && !s.paused && s.hasWork(),
		Peers: s.ccPeers, RefWindow: window, Queued: s.repairs.total + s.fulls.total,
	})
	if adapt {
		s.pace.SetRate(rate)
	}
}

// ccPeers lists the receivers for rate control.
func (s *Sender) ccPeers(yield func(*congestion.Peer) bool) {
	for _, p := range s.peerList {
		if !yield(&p.Peer) {
			return
		}
	}
}

// refWindow is how old a receiver's last loss report may be and still count towards
// the median (congestion.RefWindow).
func (s *Sender) refWindow() time.Duration {
	return congestion.RefWindow(len(s.peerList)+1, s.pace.Rate()/float64(s.pktLen))
}
