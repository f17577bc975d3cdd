package mcast

import (
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// Bounds on what requests can make a sender do (docs/PROTOCOL.md §4.1, "Bounds").
//
// Without keys anybody on the group can send requests under any node ID, so the sender
// bounds what one request, one node and one chunk can cause:
//   - a partial need asks for at most the chunk's K blocks (plus the loss margin);
//   - the repairs of one chunk within a round (the longer of repairRoundMin and the
//     time the chunk takes whole at the current rate) total at most K plus margin;
//   - each node may have at most peerBudget blocks queued on its behalf (the increase
//     its needs caused, released when the job leaves the queue); needs beyond it are
//     dropped (NeedsOverBudget). Receivers beyond the peer table share one budget.

// repairRoundMin is the shortest repair round of a chunk.
const repairRoundMin = 20 * time.Millisecond

// peerBudgetChunks: a node's budget in chunks of the largest size (a receiver asks for
// its Window, 8 by default, of whole chunks plus a few repairs at a time).
const peerBudgetChunks = 16

// charge is what one node's need added to a job.
type charge struct {
	p      *peer
	blocks int
}

// maxCharges bounds the nodes charged per job; later contributors are served free
// (they merely raised a job others had already queued).
const maxCharges = 8

func (s *Sender) peerBudget() int { return peerBudgetChunks*s.params.Blocks(s.cfg.MaxChunk) + 64 }

// queued is the blocks in every lane (the job in progress included).
func (s *Sender) queued() int { return s.repairs.total + s.fulls.total + s.side.total }

// charge books the blocks a need of p added to the job of chunk c.
func (s *Sender) charge(p *peer, c uint32, added int) {
	if p == nil || added <= 0 {
		return
	}
	j := s.findMain(c)
	if j == nil {
		j = s.side.byChunk[c]
	}
	if j == nil {
		return
	}
	for i := range j.charges {
		if j.charges[i].p == p {
			j.charges[i].blocks += added
			p.outstanding += added
			return
		}
	}
	if len(j.charges) < maxCharges {
		j.charges = append(j.charges, charge{p, added})
		p.outstanding += added
	}
}

// release gives the job's charges back to the nodes (the job left the queue).
func release(j *job) {
	for _, c := range j.charges {
		c.p.outstanding -= c.blocks
	}
	j.charges = nil
}

// repairRoom is how many repair blocks of chunk c may still be queued in this round.
func (s *Sender) repairRoom(c uint32, k int) int {
	b := &s.bursts[c]
	room := s.withMargin(k)
	now := s.pace.Last().UnixNano()
	if now-b.repairStart <= int64(s.repairRound(k)) {
		room -= int(b.repairSent)
	}
	if j := s.repairs.byChunk[c]; j != nil {
		room -= j.remaining
	} else if j := s.side.byChunk[c]; j != nil && !j.full {
		room -= max(j.remaining, 0)
	}
	return room
}

func (s *Sender) repairRound(k int) time.Duration {
	whole := time.Duration(float64(k*s.pktLen) / max(s.pace.Rate(), 1) * float64(time.Second))
	return max(repairRoundMin, whole)
}

// noteRepair counts a repair block of chunk c sent now.
func (s *Sender) noteRepair(c uint32, k int) {
	b := &s.bursts[c]
	now := s.pace.Last().UnixNano()
	if now-b.repairStart > int64(s.repairRound(k)) {
		b.repairStart, b.repairSent = now, 0
	}
	b.repairSent++
}

// notDone takes a receiver's word that is not a done report: a receiver that reported
// done and then asks or reports progress is not done any more (its latest word
// counts), unless the word is older than the done report (its horizon is behind the
// done report's: a request overtaken on the way).
func (s *Sender) notDone(p *peer, seen uint32) {
	if !p.Complete || int32(seen-p.doneSeen) < 0 {
		return
	}
	p.Complete = false
	s.stats.DoneConflicts++
	s.log.Debug("mcast: receiver reported done, then not", "node", p.id)
}

// doneValid reports whether a done report can be true: it must claim every chunk of
// our final count.
func (s *Sender) doneValid(pr wire.Progress) bool {
	return s.final && int(pr.Done) == s.chunks && int(pr.Known) == s.chunks
}
