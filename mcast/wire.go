package mcast

import (
	"encoding/binary"
	"errors"
)

// Wire format, version 3. docs/PROTOCOL.md describes every byte; keep the two in step.
//
// Every packet starts with a 32-byte header and ends with a trailer (frame.go: a
// CRC-32C, or with a key an authentication trailer); the state machines see packets
// without their trailer.
//
//	0  magic "DSCS"
//	4  version (3)
//	5  type
//	6  flags (bit 7 = authentication trailer; bits 0..3 are type-specific)
//	7  reserved (sent as 0, ignored)
//	8  session ID (16 bytes, the image ID)
//	24 node ID of the sender of this packet (uint64, big endian)
//
// All integers are big endian.
const (
	headerLen = 32
	version   = 3

	flagAuth = 0x80 // the packet ends with an authentication trailer (frame.go)
)

var magic = [4]byte{'D', 'S', 'C', 'S'}

// packetType is the header's type byte.
type packetType uint8

const (
	typeAnnounce packetType = 1
	typeData     packetType = 2
	typeRequest  packetType = 3
	typeReport   packetType = 4
	typeAck      packetType = 5
)

func (t packetType) String() string {
	switch t {
	case typeAnnounce:
		return "announce"
	case typeData:
		return "data"
	case typeRequest:
		return "request"
	case typeReport:
		return "report"
	case typeAck:
		return "ack"
	}
	return "unknown"
}

// Parse errors double as drop reasons (see DropReason).
var (
	errShort     = errors.New("mcast: packet too short")
	errMagic     = errors.New("mcast: bad magic")
	errVersion   = errors.New("mcast: unsupported version")
	errType      = errors.New("mcast: unknown packet type")
	errMalformed = errors.New("mcast: malformed packet body")
)

// header is the fixed part every packet carries.
type header struct {
	typ     packetType
	flags   uint8
	session [16]byte
	node    uint64
}

func appendHeader(b []byte, h header) []byte {
	b = append(b, magic[:]...)
	b = append(b, version, byte(h.typ), h.flags, 0)
	b = append(b, h.session[:]...)
	return binary.BigEndian.AppendUint64(b, h.node)
}

// parseHeader splits a packet (its trailer already removed, frame.go) into header and
// body. It checks magic, version and type; the authentication flag was checked with the
// trailer and is ignored here.
func parseHeader(p []byte) (h header, body []byte, err error) {
	if len(p) < headerLen {
		return h, nil, errShort
	}
	if [4]byte(p[0:4]) != magic {
		return h, nil, errMagic
	}
	if p[4] != version {
		return h, nil, errVersion
	}
	h.typ = packetType(p[5])
	h.flags = p[6]
	copy(h.session[:], p[8:24])
	h.node = binary.BigEndian.Uint64(p[24:32])
	if h.typ < typeAnnounce || h.typ > typeAck {
		return h, nil, errType
	}
	h.flags &^= flagAuth
	return h, p[headerLen:], nil
}

// reader consumes a body; any overrun sets bad instead of panicking, so a parser reads
// all fields and checks once.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// done reports whether the body was consumed exactly: trailing bytes are malformed, so
// every valid packet has exactly one encoding.
func (r *reader) done() error {
	if r.bad || len(r.b) != 0 {
		return errMalformed
	}
	return nil
}
