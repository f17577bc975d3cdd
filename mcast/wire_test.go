package mcast

import (
	"bytes"
	"errors"
	"testing"
)

var testHeader = header{session: [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 1}, node: 0x0102030405060708}

// samplePackets returns one valid packet of every type.
func samplePackets() map[string][]byte {
	h := testHeader
	return map[string][]byte{
		"announce": appendAnnounce(nil, h, &announce{final: true, rate: 125e6, chunks: 1000, maxChunk: 1 << 20,
			blockSize: 1400, maxParity: 0, members: 3, lossRef: 123, waiting: true, seq: 12345, lead: 2, meta: []byte("image header")}),
		"data": appendData(nil, h, &data{seq: 7, chunk: 3, chunkLen: 5000, block: 4, queue: 10, repairQueue: 2,
			payload: bytes.Repeat([]byte{0xab}, 1400)}),
		"request": appendRequest(nil, h, &request{progress: progress{done: 5, known: 1000, loss: 100, recent: 200, seen: 777}, outlier: true,
			needs: []need{{chunk: 1}, {chunk: 2, missing: 7, nextParity: 3}}}),
		"report":  appendReport(nil, h, &report{progress: progress{done: 1000, known: 1000}, hello: true, done: true, cong: true}),
		"ack":     appendAck(nil, h, &ack{nodes: []uint64{1, 2, 0xffffffffffffffff}}),
		"welcome": appendAck(nil, h, &ack{welcome: true, nodes: []uint64{9}}),
	}
}

func TestWireRoundTrip(t *testing.T) {
	for name, p := range samplePackets() {
		h, body, err := parseHeader(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h.session != testHeader.session || h.node != testHeader.node {
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
func reencode(h header, body []byte) ([]byte, error) {
	parsed := h
	h.flags &^= typeFlags[h.typ] // known type flags are regenerated from the fields
	switch h.typ {
	case typeAnnounce:
		a, err := parseAnnounce(parsed, body)
		if err != nil {
			return nil, err
		}
		return appendAnnounce(nil, h, &a), nil
	case typeData:
		d, err := parseData(parsed, body)
		if err != nil {
			return nil, err
		}
		return appendData(nil, h, &d), nil
	case typeRequest:
		q, err := parseRequest(parsed, body, nil)
		if err != nil {
			return nil, err
		}
		return appendRequest(nil, h, &q), nil
	case typeReport:
		r, err := parseReport(parsed, body)
		if err != nil {
			return nil, err
		}
		return appendReport(nil, h, &r), nil
	case typeAck:
		a, err := parseAck(parsed, body, nil)
		if err != nil {
			return nil, err
		}
		return appendAck(nil, h, &a), nil
	}
	return nil, errType
}

func TestWireTruncated(t *testing.T) {
	for name, p := range samplePackets() {
		limit := len(p)
		if name == "data" {
			limit = headerLen + dataBody + 1 // the payload is the rest: any length parses
		}
		for n := 0; n < limit; n++ {
			h, body, err := parseHeader(p[:n])
			if err == nil {
				_, err = reencode(h, body)
			}
			if err == nil {
				t.Errorf("%s truncated to %d bytes parsed", name, n)
			}
		}
		// One byte too many is malformed too (except data, whose payload is the rest).
		if name != "data" {
			h, body, _ := parseHeader(append(append([]byte(nil), p...), 0))
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
		{mut(4, version+1), errVersion},
		{mut(4, 1), errVersion}, // version 1 had shorter announces, requests and reports
		{mut(4, 2), errVersion}, // version 2 had no trailer, no lead and no welcome
		{mut(5, 0), errType},
		{mut(5, 99), errType},
	}
	for i, c := range cases {
		if _, _, err := parseHeader(c.pkt); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
}

func TestWireLimits(t *testing.T) {
	h := testHeader
	big := appendAnnounce(nil, h, &announce{rate: 1, chunks: 1, maxChunk: 1, blockSize: 2, meta: make([]byte, maxMeta+1)})
	hh, body, _ := parseHeader(big)
	if _, err := parseAnnounce(hh, body); err == nil {
		t.Error("oversized meta parsed")
	}
	many := make([]need, maxNeeds+1)
	q := appendRequest(nil, h, &request{needs: many})
	hh, body, _ = parseHeader(q)
	if _, err := parseRequest(hh, body, nil); err == nil {
		t.Error("too many needs parsed")
	}
	empty := appendRequest(nil, h, &request{})
	hh, body, _ = parseHeader(empty)
	if _, err := parseRequest(hh, body, nil); err == nil {
		t.Error("empty request parsed")
	}
}

var typeFlags = map[packetType]uint8{typeAnnounce: flagFinal, typeData: flagSide, typeRequest: flagOut, typeReport: flagDone | flagHello | flagCong, typeAck: flagWelc}
