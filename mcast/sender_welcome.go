package mcast

import (
	"slices"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// maxWelcomeQ bounds the welcomes waiting to go out; hellos beyond it are answered at
// their next repetition.
const maxWelcomeQ = 4 * wire.MaxAckNodes

// welcome queues an acknowledgement of a receiver's hello. Every hello is welcomed,
// repeated ones too (the first welcome may have been lost): a keyed receiver follows a
// sender only once welcomed, since a recording of an old session cannot answer the
// fresh random node ID of a new receiver (docs/SECURITY.md).
func (s *Sender) welcome(id uint64, now time.Time) {
	if len(s.welcomeQ) >= maxWelcomeQ || slices.Contains(s.welcomeQ, id) {
		return
	}
	if len(s.welcomeQ) == 0 {
		// Receivers starting together say hello together: one packet welcomes many.
		s.nextWelcome = now.Add(ackDelay)
	}
	s.welcomeQ = append(s.welcomeQ, id)
}

func (s *Sender) emitWelcomes(emit func([]byte)) {
	for len(s.welcomeQ) > 0 {
		n := min(len(s.welcomeQ), wire.MaxAckNodes)
		s.buf = wire.AppendAck(s.buf[:0], s.hdr, &wire.Ack{Welcome: true, Nodes: s.welcomeQ[:n]})
		s.welcomeQ = s.welcomeQ[n:]
		s.stats.Acks++
		s.send(s.buf, emit)
	}
	s.welcomeQ = s.welcomeQ[:0]
}
