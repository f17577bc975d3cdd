package wire

import "encoding/binary"

// Abort (type 6, version 4) is a sender's last word: it gave up and sends no more
// (docs/PROTOCOL.md §1.9). Receivers learn at once instead of waiting out their
// receive timeout; without a key they believe it only when the sender they follow
// repeats it (the receiver's rule), since anybody can send one.
type Abort struct {
	Reason AbortReason
	Chunk  uint32 // the chunk that failed (AbortCorrupt, AbortSource), or NoChunk
}

// AbortReason says why a sender gave up.
type AbortReason uint16

const (
	// AbortStopped: the sender was stopped (an operator, a signal) or failed on its
	// side (the network); the image is fine.
	AbortStopped AbortReason = 1
	// AbortCorrupt: a chunk of the image failed the sender's own verification: no
	// receiver can complete it from this sender.
	AbortCorrupt AbortReason = 2
	// AbortSource: the sender could not read its source (an I/O error, a spool that
	// filled up).
	AbortSource AbortReason = 3
)

// NoChunk fills Abort.Chunk when no chunk is to blame.
const NoChunk = 0xffffffff

func (r AbortReason) String() string {
	switch r {
	case AbortStopped:
		return "the sender was stopped"
	case AbortCorrupt:
		return "the image is corrupt at the sender"
	case AbortSource:
		return "the sender could not read its image"
	}
	return "the sender gave up"
}

const abortBody = 8

func AppendAbort(b []byte, h Header, a *Abort) []byte {
	h.Type = TypeAbort
	b = AppendHeader(b, h)
	b = binary.BigEndian.AppendUint16(b, uint16(a.Reason))
	b = append(b, 0, 0)
	return binary.BigEndian.AppendUint32(b, a.Chunk)
}

// ParseAbort takes any non-zero reason (an unknown one reads as "gave up").
func ParseAbort(h Header, body []byte) (a Abort, err error) {
	if len(body) != abortBody || body[2] != 0 || body[3] != 0 {
		return a, errMalformed
	}
	a.Reason = AbortReason(binary.BigEndian.Uint16(body))
	a.Chunk = binary.BigEndian.Uint32(body[4:])
	if a.Reason == 0 {
		return a, errMalformed
	}
	return a, nil
}
