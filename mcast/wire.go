package mcast

import (
	"encoding/binary"
	"errors"
)

// Wire format, version 2. docs/PROTOCOL.md describes every byte; keep the two in step.
//
// Every packet starts with a 32-byte header:
//
//	0  magic "DSCS"
//	4  version (2)
//	5  type
//	6  flags (bit 7 = auth tag appended; bits 0..3 are type-specific)
//	7  reserved (sent as 0, ignored)
//	8  session ID (16 bytes, the image ID)
//	24 node ID of the sender of this packet (uint64, big endian)
//
// All integers are big endian.
const (
	headerLen  = 32
	version    = 2
	authTagLen = 32 // reserved for a later issue (HMAC); a tagged packet is dropped today

	flagAuth = 0x80
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
	errAuth      = errors.New("mcast: authenticated packets not supported")
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

// parseHeader splits a datagram into header and body. It checks magic, version and type,
// and refuses tagged packets until authentication exists (a tag we cannot verify must not
// be trusted).
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
	if h.flags&flagAuth != 0 {
		return h, nil, errAuth
	}
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
