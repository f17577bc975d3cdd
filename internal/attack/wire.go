// Package attack is a hostile node for the test suite: an implementation of
// docs/PROTOCOL.md written apart from package mcast (it shares no code with
// it), so that the attacker knows only what the spec says, plus the pieces an
// attacker needs to forge chunks, parity and announces. The command
// internal/attack/cmd/mcattack mounts the attacks inside a test network.
//
// It speaks wire version 4 by default (2 or 3 on request; 4 is 3 with an abort
// packet, type 6, which it does not decode): a 32-byte header, a type-specific
// body and, from version 3, a trailer: CRC-32C (4
// bytes, big endian) over everything before it when header flag 0x80 is
// clear, or epoch u64 ‖ counter u64 ‖ tag[16] (32 bytes) when it is set.
package attack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Packet types and header constants (PROTOCOL.md §1.1).
const (
	HeaderLen = 32

	TypeAnnounce = 1
	TypeData     = 2
	TypeRequest  = 3
	TypeReport   = 4
	TypeAck      = 5

	FlagAuth = 0x80

	// Announce flags.
	FlagFinal   = 0x01
	FlagWaiting = 0x02
	// Data flags.
	FlagSide = 0x01
	// Request flags.
	FlagOutlier = 0x01
	// Report flags.
	FlagDone  = 0x01
	FlagHello = 0x02
	FlagCong  = 0x04
	// Ack flags (version 3).
	FlagWelcome = 0x01

	CRCLen   = 4
	TagLen   = 32 // keyed trailer: epoch u64, counter u64, tag[16]
	MaxNeeds = 64
	MaxAck   = 128
	MaxMeta  = 1024
)

// Magic starts every packet.
var Magic = [4]byte{'D', 'S', 'C', 'S'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is the keyless trailer's checksum.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Errors of Decode.
var (
	ErrShort     = errors.New("attack: packet too short")
	ErrMagic     = errors.New("attack: bad magic")
	ErrVersion   = errors.New("attack: other version")
	ErrType      = errors.New("attack: unknown type")
	ErrMalformed = errors.New("attack: malformed body")
	ErrCRC       = errors.New("attack: CRC-32C mismatch")
)

// Header is the fixed part of every packet.
type Header struct {
	Version byte
	Type    byte
	Flags   byte
	Session [16]byte
	Node    uint64
}

// Announce is type 1. Lead exists in version 3 only.
type Announce struct {
	Rate      uint64
	Chunks    uint32
	MaxChunk  uint32
	BlockSize uint32
	MaxParity uint32
	Members   uint32
	LossRef   uint16
	Seq       uint32
	Lead      uint32
	Meta      []byte
}

// Data is type 2.
type Data struct {
	Seq, Chunk, ChunkLen, Block, Queue, RepairQueue uint32
	MaxParity                                       uint16
	Payload                                         []byte
}

// Progress is what requests and reports both carry.
type Progress struct {
	Done, Known  uint32
	Loss, Recent uint16
	Seen         uint32
}

// Need is one entry of a request.
type Need struct{ Chunk, Missing, NextParity uint32 }

// Request is type 3.
type Request struct {
	Progress
	Needs []Need
}

// Report is type 4; version 5 adds the alias.
type Report struct {
	Progress
	Alias uint64
}

// Ack is type 5.
type Ack struct{ Nodes []uint64 }

// Packet is one decoded datagram.
type Packet struct {
	Header
	Announce *Announce
	Data     *Data
	Request  *Request
	Report   *Report
	Ack      *Ack
	// Trailer is the version 3 trailer as received (CRC or keyed); Keyed
	// tells which. Epoch and Counter are set for keyed trailers.
	Trailer        []byte
	Keyed          bool
	Epoch, Counter uint64
}

// TrailerLen is the trailer length of a packet of this version and flags.
func TrailerLen(version, flags byte) int {
	switch {
	case version < 3:
		return 0
	case flags&FlagAuth != 0:
		return TagLen
	}
	return CRCLen
}

func appendHeader(b []byte, h Header) []byte {
	b = append(b, Magic[:]...)
	b = append(b, h.Version, h.Type, h.Flags, 0)
	b = append(b, h.Session[:]...)
	return binary.BigEndian.AppendUint64(b, h.Node)
}

func appendProgress(b []byte, p Progress) []byte {
	b = binary.BigEndian.AppendUint32(b, p.Done)
	b = binary.BigEndian.AppendUint32(b, p.Known)
	b = binary.BigEndian.AppendUint16(b, p.Loss)
	b = binary.BigEndian.AppendUint16(b, p.Recent)
	return binary.BigEndian.AppendUint32(b, p.Seen)
}

// Encode builds one datagram. For a version 3 packet without FlagAuth it
// appends the CRC-32C trailer; with FlagAuth it appends keyed (which must be
// TagLen bytes: an attacker cannot compute a tag, it can only copy or invent
// one; nil means zeros).
func Encode(p *Packet, keyed []byte) []byte {
	h := p.Header
	b := make([]byte, 0, 1500)
	switch {
	case p.Announce != nil:
		h.Type = TypeAnnounce
	case p.Data != nil:
		h.Type = TypeData
	case p.Request != nil:
		h.Type = TypeRequest
	case p.Report != nil:
		h.Type = TypeReport
	case p.Ack != nil:
		h.Type = TypeAck
	}
	b = appendHeader(b, h)
	switch h.Type {
	case TypeAnnounce:
		a := p.Announce
		b = binary.BigEndian.AppendUint64(b, a.Rate)
		for _, v := range []uint32{a.Chunks, a.MaxChunk, a.BlockSize, a.MaxParity, a.Members} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		b = binary.BigEndian.AppendUint16(b, a.LossRef)
		b = binary.BigEndian.AppendUint32(b, a.Seq)
		if h.Version >= 3 {
			b = binary.BigEndian.AppendUint32(b, a.Lead)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Meta)))
		b = append(b, a.Meta...)
	case TypeData:
		d := p.Data
		for _, v := range []uint32{d.Seq, d.Chunk, d.ChunkLen, d.Block, d.Queue, d.RepairQueue} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		b = binary.BigEndian.AppendUint16(b, d.MaxParity)
		b = append(b, 0, 0)
		b = append(b, d.Payload...)
	case TypeRequest:
		q := p.Request
		b = appendProgress(b, q.Progress)
		b = binary.BigEndian.AppendUint16(b, uint16(len(q.Needs)))
		for _, n := range q.Needs {
			b = binary.BigEndian.AppendUint32(b, n.Chunk)
			b = binary.BigEndian.AppendUint32(b, n.Missing)
			b = binary.BigEndian.AppendUint32(b, n.NextParity)
		}
	case TypeReport:
		b = appendProgress(b, p.Report.Progress)
		if h.Version >= 5 {
			b = binary.BigEndian.AppendUint64(b, p.Report.Alias)
		}
	case TypeAck:
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.Ack.Nodes)))
		for _, n := range p.Ack.Nodes {
			b = binary.BigEndian.AppendUint64(b, n)
		}
	}
	return Seal(b, keyed)
}

// Seal appends the trailer to a packet without one: the CRC-32C for a
// keyless version 3 packet, the given keyed trailer (or zeros) when FlagAuth
// is set, nothing for version 2.
func Seal(b []byte, keyed []byte) []byte {
	switch TrailerLen(b[4], b[6]) {
	case CRCLen:
		return binary.BigEndian.AppendUint32(b, CRC32C(b))
	case TagLen:
		t := make([]byte, TagLen)
		copy(t, keyed)
		return append(b, t...)
	}
	return b
}

// Reseal recomputes the CRC-32C of a complete keyless version 3 packet in
// place, after its bytes were changed (what a relay that read the spec does);
// a keyed packet is left as it is (its tag cannot be recomputed).
func Reseal(p []byte) {
	if len(p) < HeaderLen+CRCLen || TrailerLen(p[4], p[6]) != CRCLen {
		return
	}
	n := len(p) - CRCLen
	binary.BigEndian.PutUint32(p[n:], CRC32C(p[:n]))
}

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

func (r *reader) progress() Progress {
	return Progress{Done: r.u32(), Known: r.u32(), Loss: r.u16(), Recent: r.u16(), Seen: r.u32()}
}

// Decode parses one datagram of version 2 or 3. A keyless version 3 packet
// whose CRC does not match is returned with ErrCRC (and no body); keyed
// trailers are split off but cannot be checked here. Slices alias p.
func Decode(p []byte) (*Packet, error) {
	if len(p) < HeaderLen {
		return nil, ErrShort
	}
	if [4]byte(p[:4]) != Magic {
		return nil, ErrMagic
	}
	pk := &Packet{Header: Header{Version: p[4], Type: p[5], Flags: p[6]}}
	copy(pk.Session[:], p[8:24])
	pk.Node = binary.BigEndian.Uint64(p[24:32])
	if pk.Version < 2 || pk.Version > 5 {
		return pk, ErrVersion
	}
	tl := TrailerLen(pk.Version, pk.Flags)
	if len(p) < HeaderLen+tl {
		return pk, ErrShort
	}
	body := p[HeaderLen : len(p)-tl]
	pk.Trailer = p[len(p)-tl:]
	switch tl {
	case CRCLen:
		if binary.BigEndian.Uint32(pk.Trailer) != CRC32C(p[:len(p)-tl]) {
			return pk, ErrCRC
		}
	case TagLen:
		pk.Keyed = true
		pk.Epoch = binary.BigEndian.Uint64(pk.Trailer)
		pk.Counter = binary.BigEndian.Uint64(pk.Trailer[8:])
	}
	r := reader{b: body}
	switch pk.Type {
	case TypeAnnounce:
		a := &Announce{Rate: r.u64(), Chunks: r.u32(), MaxChunk: r.u32(), BlockSize: r.u32(),
			MaxParity: r.u32(), Members: r.u32(), LossRef: r.u16(), Seq: r.u32()}
		if pk.Version >= 3 {
			a.Lead = r.u32()
		}
		n := int(r.u16())
		if n > MaxMeta {
			return pk, ErrMalformed
		}
		a.Meta = r.take(n)
		pk.Announce = a
	case TypeData:
		if len(body) <= 28 {
			return pk, ErrMalformed
		}
		d := &Data{Seq: r.u32(), Chunk: r.u32(), ChunkLen: r.u32(), Block: r.u32(), Queue: r.u32(),
			RepairQueue: r.u32(), MaxParity: r.u16()}
		if r.u16() != 0 {
			return pk, ErrMalformed
		}
		d.Payload = r.take(len(r.b))
		pk.Data = d
	case TypeRequest:
		q := &Request{Progress: r.progress()}
		n := int(r.u16())
		if r.bad || n == 0 || n > MaxNeeds || len(r.b) != 12*n {
			return pk, ErrMalformed
		}
		for range n {
			q.Needs = append(q.Needs, Need{Chunk: r.u32(), Missing: r.u32(), NextParity: r.u32()})
		}
		pk.Request = q
	case TypeReport:
		pk.Report = &Report{Progress: r.progress()}
		if pk.Version >= 5 {
			pk.Report.Alias = r.u64()
		}
	case TypeAck:
		n := int(r.u16())
		if r.bad || n == 0 || n > MaxAck || len(r.b) != 8*n {
			return pk, ErrMalformed
		}
		a := &Ack{}
		for range n {
			a.Nodes = append(a.Nodes, r.u64())
		}
		pk.Ack = a
	default:
		return pk, ErrType
	}
	if r.bad || len(r.b) != 0 {
		return pk, fmt.Errorf("%w: %d bytes left", ErrMalformed, len(r.b))
	}
	return pk, nil
}
