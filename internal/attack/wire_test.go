package attack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/image"
)

func samplePackets(version byte) []*Packet {
	h := Header{Version: version, Session: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Node: 0x0102030405060708}
	with := func(flags byte) Header { x := h; x.Flags = flags; return x }
	lead := uint32(0)
	if version >= 3 {
		lead = 3
	}
	return []*Packet{
		{Header: with(FlagFinal), Announce: &Announce{Rate: 12_500_000, Chunks: 52, MaxChunk: 1 << 20, BlockSize: 1400,
			MaxParity: 0, Members: 2, LossRef: 0xffff, Seq: 77, Lead: lead, Meta: []byte("meta bytes")}},
		{Header: with(FlagSide), Data: &Data{Seq: 9, Chunk: 3, ChunkLen: 5000, Block: 1, Queue: 4, RepairQueue: 2,
			MaxParity: 8, Payload: bytes.Repeat([]byte{0xab}, 1400)}},
		{Header: with(FlagOutlier), Request: &Request{Progress: Progress{Done: 1, Known: 52, Loss: 12, Recent: 3, Seen: 99},
			Needs: []Need{{Chunk: 4, Missing: 0}, {Chunk: 5, Missing: 3, NextParity: 2}}}},
		{Header: with(FlagDone | FlagHello), Report: &Report{Progress: Progress{Done: 52, Known: 52, Loss: 0xffff, Recent: 0xffff, Seen: 1000}}},
		{Header: with(FlagWelcome), Ack: &Ack{Nodes: []uint64{1, 2, 0xffffffffffffffff}}},
	}
}

// TestRoundTrip: every type encodes and decodes to itself, byte for byte,
// in versions 2 and 3, and the lengths are those of PROTOCOL.md.
func TestRoundTrip(t *testing.T) {
	// PROTOCOL.md §1.2 says "body 34 + meta" but its own offsets put meta at 68 (36).
	bodies := map[byte]int{TypeAnnounce: 36 + 10, TypeData: 28 + 1400, TypeRequest: 18 + 24, TypeReport: 16, TypeAck: 2 + 24}
	for _, v := range []byte{2, 3} {
		for _, p := range samplePackets(v) {
			b := Encode(p, nil)
			want := HeaderLen + bodies[b[5]] + map[byte]int{2: 0, 3: CRCLen}[v]
			if v == 3 && b[5] == TypeAnnounce {
				want += 4 // lead
			}
			if len(b) != want {
				t.Errorf("v%d type %d: %d bytes, want %d", v, b[5], len(b), want)
			}
			q, err := Decode(b)
			if err != nil {
				t.Fatalf("v%d type %d: %v", v, b[5], err)
			}
			q.Trailer = nil
			p.Type = b[5]
			if !reflect.DeepEqual(p, q) {
				t.Errorf("v%d type %d: decoded\n%+v\nwant\n%+v", v, b[5], q, p)
			}
			if again := Encode(q, nil); !bytes.Equal(again, b) {
				t.Errorf("v%d type %d: re-encoding differs", v, b[5])
			}
		}
	}
}

// TestCRC: the keyless trailer is CRC-32C (Castagnoli), big endian, over
// all bytes before it; any flipped bit is caught; Reseal repairs it.
func TestCRC(t *testing.T) {
	if got := CRC32C([]byte("123456789")); got != 0xe3069283 { // the CRC-32C check value
		t.Fatalf("CRC32C(123456789) = %#x", got)
	}
	for _, p := range samplePackets(3) {
		b := Encode(p, nil)
		n := len(b) - CRCLen
		if got, want := binary.BigEndian.Uint32(b[n:]), crc32.Checksum(b[:n], crc32.MakeTable(crc32.Castagnoli)); got != want {
			t.Fatalf("type %d: trailer %#x, want %#x", b[5], got, want)
		}
		for bit := 0; bit < len(b)*8; bit += 7 {
			c := append([]byte(nil), b...)
			c[bit/8] ^= 1 << (bit % 8)
			if c[6]&FlagAuth != 0 || bit/8 < 6 && bit/8 != 5 {
				continue // keyed now, or magic/version: other errors
			}
			if _, err := Decode(c); err == nil {
				t.Fatalf("type %d: bit %d flipped, still decodes", b[5], bit)
			}
			if bit/8 >= HeaderLen {
				Reseal(c)
				if _, err := Decode(c); err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("type %d: bit %d flipped and resealed: %v", b[5], bit, err)
				}
			}
		}
	}
}

// TestKeyedTrailer: with flag 0x80 the trailer is 32 bytes, epoch and
// counter first.
func TestKeyedTrailer(t *testing.T) {
	p := samplePackets(3)[3]
	p.Flags |= FlagAuth
	tr := make([]byte, TagLen)
	binary.BigEndian.PutUint64(tr, 0x1122)
	binary.BigEndian.PutUint64(tr[8:], 7)
	b := Encode(p, tr)
	if len(b) != HeaderLen+16+TagLen {
		t.Fatalf("%d bytes", len(b))
	}
	q, err := Decode(b)
	if err != nil || !q.Keyed || q.Epoch != 0x1122 || q.Counter != 7 || q.Report.Done != 52 {
		t.Fatalf("%+v %v", q, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(samplePackets(3)[2], nil)
	for name, b := range map[string][]byte{
		"short":    good[:20],
		"magic":    append([]byte("XSCS"), good[4:]...),
		"trailing": Seal(append(append([]byte(nil), good[:len(good)-CRCLen]...), 0), nil),
		"version":  append(append([]byte(nil), good[:4]...), append([]byte{9}, good[5:]...)...),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestForgeChunk0(t *testing.T) {
	id := image.NewID()
	c, err := ForgeChunk0(id, 1<<20, 4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := image.ParseChunk(c)
	if err != nil {
		t.Fatal(err)
	}
	if h.ImageID != id || h.Index != 0 || h.Span.Off != 0 || h.Span.Len != 4096 || h.Last {
		t.Fatalf("forged chunk header %+v", h)
	}
	c2, err := ForgeChunk0Len(id, 1<<20, 700_000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := image.ParseChunk(c2); err != nil || len(c2) != 700_000 {
		t.Fatalf("%d bytes: %v", len(c2), err)
	}
	// Parity only rebuilds it (the receivers' code).
	data, parity, err := Blocks(c, 1400, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := fec.Params{BlockSize: 1400}
	dec, err := fec.NewDecoder(p, len(c))
	if err != nil {
		t.Fatal(err)
	}
	if len(parity) < len(data) {
		t.Fatalf("%d parity blocks for %d data blocks", len(parity), len(data))
	}
	if p.NeedsTables(len(data)) {
		fec.Warm()
		for !dec.Ready() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for j := range data {
		if _, err := dec.Add(len(data)+j, parity[j]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := dec.Bytes()
	if err != nil || !bytes.Equal(got, c) {
		t.Fatalf("rebuilt from parity: %v, equal %v", err, bytes.Equal(got, c))
	}
}

func TestChangeMeta(t *testing.T) {
	h := &image.Header{ID: image.NewID(), Complete: true, TargetSize: 1 << 20, SectorSize: 512, ChunkSize: 1 << 20,
		ChunkCount: 1, Source: "disk", Codec: 1, Level: 1, DataBytes: 1 << 20}
	h.ManifestRoot[0] = 1
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	meta := append(b, "signature block"...)
	got, n, err := SplitMeta(meta)
	if err != nil || n != len(b) || got.ID != h.ID {
		t.Fatalf("SplitMeta: %v %d", err, n)
	}
	c := ChangeMeta(meta)
	h2, n2, err := SplitMeta(c)
	if err != nil || h2.ID != h.ID || h2.Source == h.Source || h2.TargetSize != h.TargetSize+1<<20 || string(c[n2:]) != "signature block" {
		t.Fatalf("ChangeMeta: %v %+v", err, h2)
	}
}

// TestKeyer: a sealed packet verifies, and no longer does after any change.
func TestKeyer(t *testing.T) {
	path := t.TempDir() + "/k"
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyer(path)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePackets(3)[1]
	p.Flags |= FlagAuth
	b := Encode(p, nil)
	b, err = k.Seal(b[:len(b)-TagLen], 0xabc, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Verify(b) {
		t.Fatal("a sealed packet does not verify")
	}
	q, err := Decode(b)
	if err != nil || q.Epoch != 0xabc || q.Counter != 5 {
		t.Fatalf("%+v %v", q, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if k.Verify(c) {
			t.Fatalf("byte %d changed, still verifies", i)
		}
	}
}
