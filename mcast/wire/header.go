package wire

import (
	"encoding/binary"
	"errors"
)

// Wire format, Version 5. docs/PROTOCOL.md describes every byte; keep the two in step.
//
// Every packet starts with a 32-byte header and ends with a trailer (frame.go: a
// CRC-32C, or with a key an authentication trailer); the state machines see packets
// without their trailer.
//
//	0  magic "DSCS"
//	4  Version (5)
//	5  type
//	6  flags (bit 7 = authentication trailer; bits 0..3 are type-specific)
//	7  reserved (sent as 0, ignored)
//	8  session ID (16 bytes, the image ID)
//	24 node ID of the sender of this packet (uint64, big endian)
//
// All integers are big endian.
const (
	HeaderLen = 32
	Version   = 5

	flagAuth = 0x80 // the packet ends with an authentication trailer (frame.go)
)

var magic = [4]byte{'D', 'S', 'C', 'S'}

// Type is the header's type byte.
type Type uint8

const (
	TypeAnnounce Type = 1
	TypeData     Type = 2
	TypeRequest  Type = 3
	TypeReport   Type = 4
	TypeAck      Type = 5
	TypeAbort    Type = 6 // version 4
)

func (t Type) String() string {
	switch t {
	case TypeAnnounce:
		return "announce"
	case TypeData:
		return "data"
	case TypeRequest:
		return "request"
	case TypeReport:
		return "report"
	case TypeAck:
		return "ack"
	case TypeAbort:
		return "abort"
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

// Header is the fixed part every packet carries.
type Header struct {
	Type    Type
	Flags   uint8
	Session [16]byte
	Node    uint64
}

func AppendHeader(b []byte, h Header) []byte {
	b = append(b, magic[:]...)
	b = append(b, Version, byte(h.Type), h.Flags, 0)
	b = append(b, h.Session[:]...)
	return binary.BigEndian.AppendUint64(b, h.Node)
}

// ParseHeader splits a packet (its trailer already removed, frame.go) into header and
// body. It checks magic, version and type; the authentication flag was checked with the
// trailer and is ignored here.
func ParseHeader(p []byte) (h Header, body []byte, err error) {
	if len(p) < HeaderLen {
		return h, nil, errShort
	}
	if [4]byte(p[0:4]) != magic {
		return h, nil, errMagic
	}
	if p[4] != Version {
		return h, nil, errVersion
	}
	h.Type = Type(p[5])
	h.Flags = p[6]
	copy(h.Session[:], p[8:24])
	h.Node = binary.BigEndian.Uint64(p[24:32])
	if h.Type < TypeAnnounce || h.Type > TypeAbort {
		return h, nil, errType
	}
	h.Flags &^= flagAuth
	return h, p[HeaderLen:], nil
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
