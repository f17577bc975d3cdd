package wire

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// Golden bytes: each packet type encoded from fixed values and compared with hex
// written by hand from docs/PROTOCOL.md's tables (§1.1 to §1.6, §1.8), field by field,
// so that neither the encoder nor the parser can drift from the document unnoticed.

var goldenHeader = Header{
	Session: [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
	Node:    0x0102030405060708,
}

// goldenHead is §1.1 for a type and flags byte: magic, version, type, flags, reserved,
// session, node.
func goldenHead(typ, flags string) string {
	return "44534353" + "05" + typ + flags + "00" + "00112233445566778899aabbccddeeff" + "0102030405060708"
}

func checkGolden(t *testing.T, name string, got []byte, fields ...string) {
	t.Helper()
	want := strings.Join(fields, "")
	if h := hex.EncodeToString(got); h != want {
		t.Fatalf("%s encodes as\n%s, PROTOCOL.md gives\n%s", name, h, want)
	}
	// and it parses back to the same packet
	h, body, err := ParseHeader(got)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	again, err := reencode(h, body)
	if err != nil || hex.EncodeToString(again) != want {
		t.Fatalf("%s: parses and re-encodes as %x (%v)", name, again, err)
	}
}

func TestGoldenAnnounce(t *testing.T) {
	p := AppendAnnounce(nil, goldenHeader, &Announce{Final: true, Waiting: true, Rate: 125_000_000, Chunks: 1000,
		MaxChunk: 1 << 20, BlockSize: 1400, Members: 3, LossRef: 123, Seq: 12345, Lead: 2, Meta: []byte("meta")})
	checkGolden(t, "announce", p, goldenHead("01", "03"), // final 0x01 | waiting 0x02
		"0000000007735940", // 32 rate u64: 125e6
		"000003e8",         // 40 chunks: 1000
		"00100000",         // 44 maxChunk: 1 MiB
		"00000578",         // 48 blockSize: 1400
		"00000000",         // 52 maxParity
		"00000003",         // 56 members
		"007b",             // 60 lossRef: 123
		"00003039",         // 62 seq: 12345
		"00000002",         // 66 lead
		"0004",             // 70 metaLen
		"6d657461")         // 72 meta "meta"
	if n := len(p) - HeaderLen - 4; n != 40 {
		t.Errorf("announce body without meta is %d bytes, want 40", n)
	}
}

func TestGoldenData(t *testing.T) {
	p := AppendData(nil, goldenHeader, &Data{Side: true, Seq: 7, Chunk: 3, ChunkLen: 5000, Block: 4, Queue: 10,
		RepairQueue: 2, MaxParity: 5, Payload: []byte("abcd")})
	checkGolden(t, "data", p, goldenHead("02", "01"), // side 0x01
		"00000007", // 32 seq
		"00000003", // 36 chunk
		"00001388", // 40 chunkLen: 5000
		"00000004", // 44 block
		"0000000a", // 48 queue: 10
		"00000002", // 52 repairQueue
		"0005",     // 56 maxParity u16
		"0000",     // 58 reserved
		"61626364") // 60 payload "abcd"
	if DataLen(4) != len(p) || DataPacketLen(1400, false) != 1464 || DataPacketLen(1400, true) != 1492 {
		t.Errorf("DataLen(4) = %d for a %d-byte packet; DataPacketLen(1400) = %d, keyed %d; PROTOCOL.md §1.3: 1464, 1492",
			DataLen(4), len(p), DataPacketLen(1400, false), DataPacketLen(1400, true))
	}
}

func TestGoldenRequest(t *testing.T) {
	p := AppendRequest(nil, goldenHeader, &Request{Outlier: true,
		Progress: Progress{Done: 5, Known: 1000, Loss: 100, Recent: 200, Seen: 777},
		Needs:    []Need{{Chunk: 1}, {Chunk: 2, Missing: 7, NextParity: 3}}})
	checkGolden(t, "request", p, goldenHead("03", "01"), // outlier 0x01
		"00000005",                       // 32 done
		"000003e8",                       // 36 known: 1000
		"0064",                           // 40 loss: 100
		"00c8",                           // 42 recent: 200
		"00000309",                       // 44 seen: 777
		"0002",                           // 48 n
		"00000001"+"00000000"+"00000000", // 50 need: chunk 1, whole (missing 0), nextParity 0
		"00000002"+"00000007"+"00000003") //    need: chunk 2, missing 7, nextParity 3
}

func TestGoldenReport(t *testing.T) {
	p := AppendReport(nil, goldenHeader, &Report{Done: true, Hello: true, Congestion: true,
		Progress: Progress{Done: 1000, Known: 1000, Loss: LossUnknown, Recent: LossUnknown, Seen: 42}})
	checkGolden(t, "report", p, goldenHead("04", "07"), // done 0x01 | hello 0x02 | congestion 0x04
		"000003e8",         // 32 done
		"000003e8",         // 36 known
		"ffff",             // 40 loss: not measured
		"ffff",             // 42 recent
		"0000002a",         // 44 seen: 42
		"0000000000000000") // 48 alias: none
	checkGolden(t, "report alias", AppendReport(nil, goldenHeader, &Report{Alias: 0x1122334455667788,
		Progress: Progress{Done: 1, Known: 2, Loss: 3, Recent: 4, Seen: 5}}), goldenHead("04", "00"),
		"00000001", "00000002", "0003", "0004", "00000005", "1122334455667788")
}

func TestGoldenAck(t *testing.T) {
	checkGolden(t, "ack", AppendAck(nil, goldenHeader, &Ack{Nodes: []uint64{1, 0xffffffffffffffff}}), goldenHead("05", "00"),
		"0002", "0000000000000001", "ffffffffffffffff")
	checkGolden(t, "welcome", AppendAck(nil, goldenHeader, &Ack{Welcome: true, Nodes: []uint64{9}}), goldenHead("05", "01"),
		"0001", "0000000000000009")
}

// TestGoldenAbort: §1.9, version 4: reason u16, reserved u16, chunk u32.
func TestGoldenAbort(t *testing.T) {
	checkGolden(t, "abort", AppendAbort(nil, goldenHeader, &Abort{Reason: AbortCorrupt, Chunk: 17}), goldenHead("06", "00"),
		"0002",     // 32 reason: corrupt
		"0000",     // 34 reserved
		"00000011") // 36 chunk 17
	checkGolden(t, "abort stopped", AppendAbort(nil, goldenHeader, &Abort{Reason: AbortStopped, Chunk: NoChunk}), goldenHead("06", "00"),
		"0001", "0000", "ffffffff")
	for _, body := range []string{"00000000ffffffff" /* reason 0 */, "000200010000000a" /* reserved */, "0002000000000011ff" /* long */} {
		b, _ := hex.DecodeString(body)
		h := goldenHeader
		h.Type = TypeAbort
		if _, err := ParseAbort(h, b); err == nil {
			t.Errorf("abort body %s parsed", body)
		}
	}
}

// crc32c is CRC-32C bit by bit (reflected polynomial 0x82F63B78), independent of the
// table the frame layer uses.
func crc32c(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82f63b78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

// TestGoldenTrailer: §1.8 keyless: the packet, then the big-endian CRC-32C of every byte
// before it; the check value of "123456789" pins the CRC itself.
func TestGoldenTrailer(t *testing.T) {
	if c := crc32c([]byte("123456789")); c != 0xe3069283 {
		t.Fatalf("crc32c check value %08x, want e3069283", c)
	}
	f, err := NewFramer(nil, goldenHeader.Node, true, func() uint64 { return goldenHeader.Node }, func(DropReason) {})
	if err != nil {
		t.Fatal(err)
	}
	p := AppendAck(nil, goldenHeader, &Ack{Welcome: true, Nodes: []uint64{9}})
	c := crc32c(p)
	want := hex.EncodeToString(p) + hex.EncodeToString([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
	if got := hex.EncodeToString(f.Seal(append([]byte(nil), p...), time.Unix(0, 0))); got != want {
		t.Fatalf("sealed as\n%s, want\n%s", got, want)
	}
}
