package wire

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"
)

type dropCount struct{ d Drops }

func (c *dropCount) drop(r DropReason) { c.d[r]++ }

func testFramer(t *testing.T, key []byte, node uint64, sender bool, epoch uint64, c *dropCount) *Framer {
	t.Helper()
	f, err := NewFramer(key, node, sender, func() uint64 { return epoch }, c.drop)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFrameKeyless: the CRC-32C trailer round-trips and catches a flipped bit anywhere.
func TestFrameKeyless(t *testing.T) {
	var c dropCount
	f := testFramer(t, nil, 1, true, 1, &c)
	now := time.Unix(0, 0)
	for name, p := range samplePackets() {
		wire := f.Seal(append([]byte(nil), p...), now)
		if len(wire) != len(p)+crcTrailerLen {
			t.Fatalf("%s: %d bytes on the wire, want %d", name, len(wire), len(p)+crcTrailerLen)
		}
		plain, ok := f.Open(wire, now)
		if !ok || !bytes.Equal(plain, p) {
			t.Fatalf("%s: did not round-trip", name)
		}
		for i := 0; i < len(wire)*8; i += 7 {
			bad := append([]byte(nil), wire...)
			bad[i/8] ^= 1 << (i % 8)
			if _, ok := f.Open(bad, now); ok {
				t.Fatalf("%s: bit %d flipped was accepted", name, i)
			}
		}
	}
	if c.d[DropChecksum] == 0 {
		t.Errorf("no checksum drops counted: %v", c.d.String())
	}
}

// TestFrameGolden pins the keyless trailer of one packet (docs/PROTOCOL.md §1.8).
func TestFrameGolden(t *testing.T) {
	var c dropCount
	f := testFramer(t, nil, 1, true, 1, &c)
	p := AppendAck(nil, testHeader, &Ack{Welcome: true, Nodes: []uint64{9}})
	got := hex.EncodeToString(f.Seal(p, time.Unix(0, 0)))
	want := "44534353" + "05" + "05" + "01" + "00" + "deadbeef000000000000000000000001" + "0102030405060708" +
		"0001" + "0000000000000009"
	if got[:len(want)] != want {
		t.Fatalf("ack encodes as\n%s, want\n%s", got, want)
	}
	t.Logf("welcome ack with its CRC-32C: %s", got)
	if len(got) != len(want)+8 {
		t.Fatalf("trailer is %d hex digits, want 8", len(got)-len(want))
	}
}

// TestFrameKeyed: tags verify, any change is refused, the two modes never mix, replays
// and other runs are refused.
func TestFrameKeyed(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	now := time.Unix(0, 0)
	const senderNode, recvNode = 0x0102030405060708, 0x55
	var sc, rc dropCount
	snd := testFramer(t, key, senderNode, true, senderNode, &sc)
	rcv := testFramer(t, key, recvNode, false, senderNode, &rc)

	ann := AppendAnnounce(nil, testHeader, &Announce{Rate: 1, Chunks: 1, MaxChunk: 1, BlockSize: 2, Meta: []byte("m")})
	wire := snd.Seal(append([]byte(nil), ann...), now)
	if len(wire) != len(ann)+authTrailerLen || wire[6]&flagAuth == 0 {
		t.Fatalf("sealed announce: %d bytes, flags %#x", len(wire), wire[6])
	}
	plain, ok := rcv.Open(wire, now)
	if !ok || !bytes.Equal(plain[:6], ann[:6]) || !bytes.Equal(plain[7:], ann[7:]) {
		t.Fatalf("keyed announce did not open (drops %v)", rc.d.String())
	}
	if _, ok := rcv.Open(wire, now); ok || rc.d[DropReplay] != 1 {
		t.Fatalf("a replayed packet was accepted (drops %v)", rc.d.String())
	}
	for i := 0; i < len(wire)*8; i += 5 {
		bad := append([]byte(nil), wire...)
		bad[i/8] ^= 1 << (i % 8)
		if _, ok := rcv.Open(bad, now); ok {
			t.Fatalf("bit %d flipped was accepted", i)
		}
	}
	// Another key: nothing opens.
	var oc dropCount
	other := testFramer(t, bytes.Repeat([]byte{8}, 32), recvNode, false, senderNode, &oc)
	if _, ok := other.Open(snd.Seal(append([]byte(nil), ann...), now), now); ok || oc.d[DropAuth] != 1 {
		t.Fatalf("a packet under another key opened (drops %v)", oc.d.String())
	}
	// Keyless and keyed never mix, in either direction.
	var kc dropCount
	keyless := testFramer(t, nil, recvNode, false, senderNode, &kc)
	if _, ok := keyless.Open(snd.Seal(append([]byte(nil), ann...), now), now); ok || kc.d[DropAuth] != 1 {
		t.Fatal("a keyless node took a keyed packet")
	}
	if _, ok := rcv.Open(keyless.Seal(append([]byte(nil), ann...), now), now); ok {
		t.Fatal("a keyed node took a keyless packet")
	}
	// A receiver's report belongs to the run of the sender it follows: the sender
	// takes it only in its own run.
	rep := AppendReport(nil, Header{Session: testHeader.Session, Node: recvNode}, &Report{Hello: true})
	if _, ok := snd.Open(rcv.Seal(append([]byte(nil), rep...), now), now); !ok {
		t.Fatalf("the sender refused its receiver's report (drops %v)", sc.d.String())
	}
	var stale dropCount
	old := testFramer(t, key, recvNode, false, 0x999, &stale) // follows an earlier run
	if _, ok := snd.Open(old.Seal(append([]byte(nil), rep...), now), now); ok || sc.d[DropStale] != 1 {
		t.Fatalf("a report of another run was accepted (drops %v)", sc.d.String())
	}
	// A sender's packet must be of its own run.
	liar := testFramer(t, key, senderNode, true, 0x999, &stale)
	if _, ok := rcv.Open(liar.Seal(append([]byte(nil), ann...), now), now); ok {
		t.Fatal("a sender packet claiming another run was accepted")
	}
}

// TestReplayWindow: counters out of order within the window are taken once each;
// anything older than the window is refused.
func TestReplayWindow(t *testing.T) {
	f := &Framer{seen: map[uint64]*replayState{}}
	order := []uint64{1, 3, 2, 2, 1000, 5, 5, 1100, 76, 77, 2000, 1100, 977, 976}
	want := []bool{true, true, true, false, true, true, false, true, false, true, true, false, true, false}
	for i, c := range order {
		if got := f.fresh(1, 9, c); got != want[i] {
			t.Errorf("counter %d (step %d): fresh %v, want %v", c, i, got, want[i])
		}
	}
	if !f.fresh(1, 10, 1) {
		t.Error("a new epoch starts a new window")
	}
}

// BenchmarkFrame: trailer cost per packet of 1400-byte blocks, keyless and keyed.
func BenchmarkFrame(b *testing.B) {
	pkt := AppendData(nil, testHeader, &Data{ChunkLen: 1 << 20, Payload: make([]byte, 1400)})
	for _, keyed := range []bool{false, true} {
		name := "crc32c"
		var key []byte
		if keyed {
			name, key = "gmac", make([]byte, 32)
		}
		var c dropCount
		snd := testFramer(&testing.T{}, key, testHeader.Node, true, testHeader.Node, &c)
		rcv := testFramer(&testing.T{}, key, 77, false, testHeader.Node, &c)
		now := time.Unix(0, 0)
		b.Run(name+"/seal", func(b *testing.B) {
			buf := make([]byte, 0, 2048)
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				snd.Seal(append(buf[:0], pkt...), now)
			}
		})
		b.Run(name+"/open", func(b *testing.B) {
			wire := snd.Seal(append([]byte(nil), pkt...), now)
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				rcv.seen = map[uint64]*replayState{} // not a replay each time
				rcv.Open(wire, now)
			}
		})
	}
}

// FuzzFrame: whatever arrives, the frame layer never panics, and it passes on only
// packets whose trailer verifies (keyless: the CRC; keyed: nothing a fuzzer can make
// without the key, except what it was seeded with, once).
func FuzzFrame(f *testing.F) {
	now := time.Unix(0, 0)
	var c dropCount
	key := bytes.Repeat([]byte{3}, 32)
	sk := testFramer(&testing.T{}, key, testHeader.Node, true, testHeader.Node, &c)
	sn := testFramer(&testing.T{}, nil, testHeader.Node, true, testHeader.Node, &c)
	for _, p := range samplePackets() {
		f.Add(sk.Seal(append([]byte(nil), p...), now))
		f.Add(sn.Seal(append([]byte(nil), p...), now))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		var c dropCount
		keyless := testFramer(t, nil, 99, false, testHeader.Node, &c)
		if plain, ok := keyless.Open(p, now); ok {
			if len(plain) != len(p)-crcTrailerLen || !bytes.Equal(keyless.Seal(append([]byte(nil), plain...), now), p) {
				t.Fatalf("accepted %x, which does not re-seal to itself", p)
			}
		}
		keyed := testFramer(t, key, 99, false, testHeader.Node, &c)
		if _, ok := keyed.Open(p, now); ok {
			if _, again := keyed.Open(p, now); again {
				t.Fatal("the same keyed packet was accepted twice")
			}
		}
	})
}
