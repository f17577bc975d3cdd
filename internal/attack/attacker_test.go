package attack

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
)

// fakeNet feeds Run a scripted session and keeps what it sends.
type fakeNet struct {
	in   chan Datagram
	mu   sync.Mutex
	sent []Datagram
}

func (f *fakeNet) Recv() <-chan Datagram { return f.in }
func (f *fakeNet) Close() error          { return nil }
func (f *fakeNet) Send(port int, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, Datagram{Port: port, B: append([]byte(nil), b...)})
	return nil
}

// session plays a sender and one receiver for d: announces, data, reports.
func (f *fakeNet) session(t *testing.T, version byte, keyed bool, d time.Duration) {
	t.Helper()
	id := image.NewID()
	h := &image.Header{ID: id, Complete: true, TargetSize: 8 << 20, SectorSize: 512, ChunkSize: 1 << 20,
		ChunkCount: 30, Source: "test", Codec: 1, Level: 1, DataBytes: 8 << 20}
	meta, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(node uint64, flags byte) Header {
		if keyed {
			flags |= FlagAuth
		}
		return Header{Version: version, Session: id, Node: node, Flags: flags}
	}
	var counter uint64
	tr := func() []byte {
		if !keyed {
			return nil
		}
		counter++
		b := make([]byte, TagLen)
		b[7], b[15] = 0x55, byte(counter)
		return b
	}
	go func() {
		end := time.Now().Add(d)
		for seq := uint32(0); time.Now().Before(end); seq++ {
			f.in <- Datagram{Port: 0, At: time.Now(), B: Encode(&Packet{Header: hdr(0x5e4d, FlagFinal),
				Announce: &Announce{Chunks: 30, MaxChunk: 1 << 20, BlockSize: 1400, Seq: seq, Meta: meta}}, tr())}
			f.in <- Datagram{Port: 0, At: time.Now(), B: Encode(&Packet{Header: hdr(0x5e4d, 0),
				Data: &Data{Seq: seq, Chunk: seq % 30, ChunkLen: 300_000, Block: 1, Payload: make([]byte, 1400)}}, tr())}
			f.in <- Datagram{Port: 1, At: time.Now(), B: Encode(&Packet{Header: hdr(0x4ec1, FlagHello),
				Report: &Report{Progress: Progress{Known: 30}}}, tr())}
			time.Sleep(2 * time.Millisecond)
		}
	}()
}

func runFake(t *testing.T, cfg Config, version byte, keyed bool) (Result, []*Packet) {
	t.Helper()
	f := &fakeNet{in: make(chan Datagram, 1024)}
	cfg.Duration, cfg.Quiet, cfg.Wire = 400*time.Millisecond, 200*time.Millisecond, version
	f.session(t, version, keyed, 300*time.Millisecond)
	res := Run(context.Background(), f, cfg)
	if res.Error != "" {
		t.Fatalf("%s: %s", cfg.Attack, res.Error)
	}
	var pks []*Packet
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.sent {
		pk, err := Decode(d.B)
		if err != nil {
			t.Fatalf("%s sent a packet that does not decode: %v", cfg.Attack, err)
		}
		pks = append(pks, pk)
	}
	if len(pks) != res.SentPackets || len(pks) == 0 {
		t.Fatalf("%s: sent %d packets, result says %d", cfg.Attack, len(pks), res.SentPackets)
	}
	return res, pks
}

func TestAttackPackets(t *testing.T) {
	for _, v := range []byte{2, 3} {
		_, pks := runFake(t, Config{Attack: "fake-done"}, v, false)
		for _, p := range pks {
			if p.Report == nil || p.Node != 0x4ec1 || p.Flags&FlagDone == 0 || p.Report.Done != 30 || p.Version != v {
				t.Fatalf("v%d fake-done sent %+v", v, p)
			}
		}
		_, pks = runFake(t, Config{Attack: "hostile-announce", Variant: "max"}, v, false)
		for _, p := range pks {
			if p.Announce == nil || p.Node != 0x5e4d || p.Announce.Chunks != 0xffffffff {
				t.Fatalf("v%d hostile-announce sent %+v", v, p)
			}
		}
	}
	_, pks := runFake(t, Config{Attack: "request-flood", Variant: "big"}, 3, false)
	for _, p := range pks {
		if p.Request == nil || len(p.Request.Needs) != 64 || p.Request.Needs[0].Missing != 32768 {
			t.Fatalf("request-flood sent %+v", p)
		}
	}
	_, pks = runFake(t, Config{Attack: "forged-data"}, 3, false)
	for _, p := range pks {
		if p.Data == nil || p.Data.Chunk != 0 || p.Data.ChunkLen == 300_000 || len(p.Data.Payload) != 1400 {
			t.Fatalf("forged-data sent %+v", p)
		}
	}
	_, pks = runFake(t, Config{Attack: "poison-lengths"}, 3, false)
	chunks := map[uint32]bool{}
	for _, p := range pks {
		chunks[p.Data.Chunk] = true
	}
	if len(chunks) != 20 {
		t.Fatalf("poison-lengths poisoned %d chunks", len(chunks))
	}
}

// TestAttackKeyed: in a keyed session half the forgeries carry the sniffed
// epoch and a made-up tag, the other half a CRC.
func TestAttackKeyed(t *testing.T) {
	res, pks := runFake(t, Config{Attack: "fake-done"}, 3, true)
	if !res.KeyedSession {
		t.Fatal("keyed session not noticed")
	}
	var keyed, crc int
	for _, p := range pks {
		if p.Keyed {
			keyed++
			if p.Epoch != 0x55 {
				t.Fatalf("epoch %#x", p.Epoch)
			}
		} else {
			crc++
		}
	}
	if keyed == 0 || crc == 0 {
		t.Fatalf("%d tagged, %d CRC forgeries", keyed, crc)
	}
}

func TestRecordReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.rec")
	res, _ := func() (Result, []*Packet) {
		f := &fakeNet{in: make(chan Datagram, 1024)}
		f.session(t, 3, false, 200*time.Millisecond)
		return Run(context.Background(), f, Config{Attack: "record", Record: path, Duration: 400 * time.Millisecond,
			Quiet: 100 * time.Millisecond}), nil
	}()
	if res.Error != "" || res.Recorded == 0 {
		t.Fatalf("record: %+v", res)
	}
	rec, err := ReadRecording(path)
	if err != nil || len(rec) != res.Recorded {
		t.Fatalf("read back %d of %d: %v", len(rec), res.Recorded, err)
	}
	res2, pks := runFake(t, Config{Attack: "replay", Variant: "file", Replay: path}, 3, false)
	if res2.SentPackets == 0 || !bytes.Equal(Encode(pks[0], nil), rec[0].b) {
		t.Fatalf("replayed %d packets; first differs", res2.SentPackets)
	}
}
