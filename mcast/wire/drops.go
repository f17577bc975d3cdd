package wire

// DropReason says why a received packet was ignored.
type DropReason int

// Drop reasons. Every received datagram is either used or counted under exactly one.
const (
	DropShort     DropReason = iota // shorter than a header
	DropMagic                       // not a Discus packet
	DropVersion                     // another protocol version
	DropType                        // unknown packet type
	DropMalformed                   // body does not parse or holds impossible values
	DropAuth                        // authentication missing, unexpected or wrong (tag check failed)
	DropForeign                     // another session on the same group
	DropSelf                        // our own packet looped back
	DropRole                        // a type this side does not take (e.g. data at the sender)
	DropEarly                       // before the receiver joined a session
	DropRange                       // chunk or block index out of range
	DropWindow                      // no room for another partial chunk (receiver memory bound)
	DropChecksum                    // the keyless trailer's CRC-32C does not match (corrupted on the way)
	DropReplay                      // an authenticated packet seen before, or older than the replay window
	DropStale                       // an authenticated packet of another sender run (epoch)
	DropConflict                    // disagrees with what the session already established
	numDropReasons
)

var dropNames = [numDropReasons]string{"short", "magic", "version", "type", "malformed", "auth",
	"foreign", "self", "role", "early", "range", "window", "checksum", "replay", "stale", "conflict"}

func (r DropReason) String() string {
	if r >= 0 && r < numDropReasons {
		return dropNames[r]
	}
	return "invalid"
}

// Drops counts dropped packets by reason.
type Drops [numDropReasons]uint64

// Total is the number of dropped packets.
func (d *Drops) Total() uint64 {
	var n uint64
	for _, v := range d {
		n += v
	}
	return n
}

// String lists the non-zero counters, e.g. "malformed=3 foreign=10".
func (d *Drops) String() string {
	s := ""
	for i, v := range d {
		if v == 0 {
			continue
		}
		if s != "" {
			s += " "
		}
		s += dropNames[i] + "=" + itoa(v)
	}
	if s == "" {
		return "none"
	}
	return s
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// DropFor maps a header parse error to its drop reason.
func DropFor(err error) DropReason {
	switch err {
	case errShort:
		return DropShort
	case errMagic:
		return DropMagic
	case errVersion:
		return DropVersion
	case errType:
		return DropType
	}
	return DropMalformed
}
