// Package wire is the Discus packet format, version 4 (docs/PROTOCOL.md §1): a 32-byte
// Header, a body per packet type (Announce, Data, Request, Report, Ack, Abort) and a trailer.
//
// Every packet has exactly one encoding. AppendX writes a packet after its header;
// ParseHeader checks magic, version and type and returns the body, which ParseX
// decodes, refusing any body longer or shorter than its type allows:
//
//	p := wire.AppendReport(nil, wire.Header{Session: id, Node: me}, &wire.Report{Hello: true})
//	h, body, err := wire.ParseHeader(p)
//	r, err := wire.ParseReport(h, body)
//
// The frame layer (Framer) adds the trailer a packet carries on the network and checks
// and strips it on the way in: a CRC-32C, or with a shared key an AES-GCM tag with a
// replay window (§1.8). The state machines of package mcast only ever see packets
// without a trailer.
//
// Every datagram a node receives is either used or counted under exactly one
// DropReason (§1.7); Drops holds the counters.
//
// The tests pin each packet type to PROTOCOL.md's tables with hand-written hex
// (golden_test.go), round-trip and truncate every type, and fuzz the parsers
// (FuzzParse) and the frame layer (FuzzFrame).
package wire
