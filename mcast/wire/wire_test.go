package wire

import (
	"bytes"
	"errors"
	"testing"
)

var testHeader = Header{Session: [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 1}, Node: 0x0102030405060708}

// samplePackets returns one valid packet of every type.
func samplePackets() map[string][]byte {
	h := testHeader
	return map[string][]byte{
		"announce": AppendAnnounce(nil, h, &Announce{Final: true, Rate: 125e6, Chunks: 1000, MaxChunk: 1 << 20,
			BlockSize: 1400, MaxParity: 0, Members: 3, LossRef: 123, Waiting: true, Seq: 12345, Lead: 2, Meta: []byte("image header")}),
		"data": AppendData(nil, h, &Data{Seq: 7, Chunk: 3, ChunkLen: 5000, Block: 4, Queue: 10, RepairQueue: 2,
			Payload: bytes.Repeat([]byte{0xab}, 1400)}),
		"request": AppendRequest(nil, h, &Request{Progress: Progress{Done: 5, Known: 1000, Loss: 100, Recent: 200, Seen: 777}, Outlier: true,
			Needs: []Need{{Chunk: 1}, {Chunk: 2, Missing: 7, NextParity: 3}}}),
		"report":  AppendReport(nil, h, &Report{Progress: Progress{Done: 1000, Known: 1000}, Hello: true, Done: true, Congestion: true}),
		"ack":     AppendAck(nil, h, &Ack{Nodes: []uint64{1, 2, 0xffffffffffffffff}}),
		"welcome": AppendAck(nil, h, &Ack{Welcome: true, Nodes: []uint64{9}}),
		"abort":   AppendAbort(nil, h, &Abort{Reason: AbortCorrupt, Chunk: 17}),
	}
}

func TestWireRoundTrip(t *testing.T) {
	for name, p := range samplePackets() {
		h, body, err := ParseHeader(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h.Session != testHeader.Session || h.Node != testHeader.Node {
			t.Errorf("%s: header %+v", name, h)
		}
		again, err := reencode(h, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(again, p) {
			t.Errorf("%s: re-encoding differs", name)
		}
		t.Logf("%s: %d bytes", name, len(p))
	}
	if n := len(samplePackets()["data"]); n != 1460 {
		t.Errorf("a default data packet is %d bytes, want 1460 (fits 1472)", n)
	}
}

// reencode parses a body of any type and encodes it again.
func reencode(h Header, body []byte) ([]byte, error) {
	parsed := h
	h.Flags &^= typeFlags[h.Type] // known type flags are regenerated from the fields
	switch h.Type {
	case TypeAnnounce:
		a, err := ParseAnnounce(parsed, body)
		if err != nil {
			return nil, err
		}
		return AppendAnnounce(nil, h, &a), nil
	case TypeData:
		d, err := ParseData(parsed, body)
		if err != nil {
			return nil, err
		}
		return AppendData(nil, h, &d), nil
	case TypeRequest:
		q, err := ParseRequest(parsed, body, nil)
		if err != nil {
			return nil, err
		}
		return AppendRequest(nil, h, &q), nil
	case TypeReport:
		r, err := ParseReport(parsed, body)
		if err != nil {
			return nil, err
		}
		return AppendReport(nil, h, &r), nil
	case TypeAck:
		a, err := ParseAck(parsed, body, nil)
		if err != nil {
			return nil, err
		}
		return AppendAck(nil, h, &a), nil
	case TypeAbort:
		a, err := ParseAbort(parsed, body)
		if err != nil {
			return nil, err
		}
		return AppendAbort(nil, h, &a), nil
	}
	return nil, errType
}

func TestWireTruncated(t *testing.T) {
	for name, p := range samplePackets() {
		limit := len(p)
		if name == "data" {
			limit = HeaderLen + dataBody + 1 // the payload is the rest: any length parses
		}
		for n := 0; n < limit; n++ {
			h, body, err := ParseHeader(p[:n])
			if err == nil {
				_, err = reencode(h, body)
			}
			if err == nil {
				t.Errorf("%s truncated to %d bytes parsed", name, n)
			}
		}
		// One byte too many is malformed too (except data, whose payload is the rest).
		if name != "data" {
			h, body, _ := ParseHeader(append(append([]byte(nil), p...), 0))
			if _, err := reencode(h, body); err == nil {
				t.Errorf("%s with a trailing byte parsed", name)
			}
		}
	}
}

func TestWireHeaderErrors(t *testing.T) {
	good := samplePackets()["report"]
	mut := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	cases := []struct {
		pkt  []byte
		want error
	}{
		{good[:10], errShort},
		{mut(0, 'X'), errMagic},
		{mut(4, Version+1), errVersion},
		{mut(4, 1), errVersion}, // version 1 had shorter announces, requests and reports
		{mut(4, 2), errVersion}, // version 2 had no trailer, no lead and no welcome
		{mut(4, 3), errVersion}, // version 3 had no abort
		{mut(5, 0), errType},
		{mut(5, 99), errType},
	}
	for i, c := range cases {
		if _, _, err := ParseHeader(c.pkt); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
}

func TestWireLimits(t *testing.T) {
	h := testHeader
	big := AppendAnnounce(nil, h, &Announce{Rate: 1, Chunks: 1, MaxChunk: 1, BlockSize: 2, Meta: make([]byte, MaxMeta+1)})
	hh, body, _ := ParseHeader(big)
	if _, err := ParseAnnounce(hh, body); err == nil {
		t.Error("oversized meta parsed")
	}
	many := make([]Need, MaxNeeds+1)
	q := AppendRequest(nil, h, &Request{Needs: many})
	hh, body, _ = ParseHeader(q)
	if _, err := ParseRequest(hh, body, nil); err == nil {
		t.Error("too many needs parsed")
	}
	empty := AppendRequest(nil, h, &Request{})
	hh, body, _ = ParseHeader(empty)
	if _, err := ParseRequest(hh, body, nil); err == nil {
		t.Error("empty request parsed")
	}
}

var typeFlags = map[Type]uint8{TypeAnnounce: FlagFinal, TypeData: FlagSide, TypeRequest: FlagOutlier, TypeReport: FlagDone | FlagHello | FlagCongestion, TypeAck: FlagWelcome}
