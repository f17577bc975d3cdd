package mcast

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// TestReceiverRebuildNeedsNoTables: a chunk that needs a GF(2^16) rebuild is delivered
// at once even while FECReady says no: fec's decoders no longer need the library's
// tables (fec.Decoder.Ready is always true), so the hold for them never engages.
func TestReceiverRebuildNeedsNoTables(t *testing.T) {
	chunk := bytes.Repeat([]byte{7}, 300*64) // 300 blocks: over GF(2^16)
	now := time.Unix(1000, 0)
	s, err := NewSender(SenderConfig{SessionID: testHeader.Session, BlockSize: 64, MaxChunk: len(chunk),
		FixedRate: true, MaxRate: 1e9}, memSource{chunks: [][]byte{chunk}}, now)
	if err != nil {
		t.Fatal(err)
	}
	ready, asked := false, 0
	var got []byte
	r := NewReceiver(ReceiverConfig{
		FECReady: func() bool { asked++; return ready },
		Deliver:  func(_ int, c []byte) error { got = append([]byte(nil), c...); return nil },
	}, now)
	// Everything the sender emits reaches the receiver except data block 5; then one
	// repair's parity makes the chunk complete.
	feed := func() {
		for range 2000 {
			s.Poll(now, func(p []byte) {
				h, body, _ := wire.ParseHeader(p)
				if h.Type == wire.TypeData {
					if d, _ := wire.ParseData(h, body); d.Block == 5 {
						return
					}
				}
				r.Handle(p, now)
			})
			now = now.Add(time.Millisecond)
			if !s.hasWork() && now.After(time.Unix(1001, 0)) {
				return
			}
		}
	}
	s.Handle(requestPkt(1, wire.Need{Chunk: 0}), now)
	feed()
	s.Handle(requestPkt(1, wire.Need{Chunk: 0, Missing: 1}), now)
	feed()
	r.Poll(now, func([]byte) {})
	_ = ready
	if !bytes.Equal(got, chunk) || r.held != 0 || !r.Complete() {
		t.Fatalf("delivered intact %v, held %d, complete %v (FECReady asked %d times)", bytes.Equal(got, chunk), r.held, r.Complete(), asked)
	}
	t.Logf("ASSERT a GF(2^16) rebuild delivered while FECReady said no (asked %d times)", asked)
}

// TestReceiverHelloWhenSenderWaits: a sender that announces it is waiting for receivers
// hears a hello within 5 ms; one that is not waiting gets it at the spaced report time.
func TestReceiverHelloWhenSenderWaits(t *testing.T) {
	for _, waiting := range []bool{true, false} {
		now := time.Unix(1000, 0)
		// A fixed seed: with about 1 chance in 250 a whole-chunk request's backoff is 0
		// and the request (which counts as the hello) goes first.
		r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(3, 4))}, now)
		a := wire.Announce{Final: true, Waiting: waiting, Rate: 1e6, Chunks: 4, MaxChunk: 64 * 100, BlockSize: 64,
			LossRef: wire.LossUnknown, Meta: []byte("m")}
		r.Handle(wire.AppendAnnounce(nil, testHeader, &a), now)
		hello := time.Duration(-1)
		for d := time.Duration(0); d <= 20*time.Millisecond && hello < 0; d += time.Millisecond {
			r.Poll(now.Add(d), func(p []byte) {
				h, body, _ := wire.ParseHeader(p)
				if h.Type == wire.TypeReport {
					if rep, _ := wire.ParseReport(h, body); rep.Hello {
						hello = d
					}
				}
			})
		}
		t.Logf("ASSERT waiting=%v: hello after %v (-1 = not within 20 ms)", waiting, hello)
		if waiting && (hello < 0 || hello > 5*time.Millisecond) {
			t.Errorf("sender waiting: hello after %v, want within 5 ms", hello)
		}
		if !waiting && hello >= 0 {
			t.Errorf("sender not waiting: hello after %v, want the spaced report time (>= 250 ms)", hello)
		}
	}
}

// TestReceiverPausedSenderIsNotLoss: a chunk whose blocks stop while the sender is
// merely paused (no packet at all, backlog announced) is not asked for; once the sender
// has moved on to other packets, its deficit is final and asked for.
func TestReceiverPausedSenderIsNotLoss(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewReceiver(ReceiverConfig{Rand: rand.New(rand.NewPCG(1, 2)), Window: 1}, now)
	// 100 kB/s: 1.24 ms per packet, so the wait for a paused sender (gap + 10 ms + the
	// announced backlog's time) is long enough to tell from the old rule (gap + backoff).
	a := wire.Announce{Final: true, Rate: 1e5, Chunks: 2, MaxChunk: 64 * 100, BlockSize: 64, LossRef: wire.LossUnknown, Meta: []byte("m")}
	r.Handle(wire.AppendAnnounce(nil, testHeader, &a), now)
	payload := make([]byte, 64)
	send := func(seq, chunk, block uint32) {
		d := wire.Data{Seq: seq, Chunk: chunk, ChunkLen: 64 * 100, Block: block, Queue: 40, Payload: payload}
		r.Handle(wire.AppendData(nil, testHeader, &d), now)
	}
	partialNeed := func(until time.Duration) time.Duration {
		start := now
		for now.Sub(start) < until {
			asked := false
			r.Poll(now, func(p []byte) {
				h, body, _ := wire.ParseHeader(p)
				if h.Type != wire.TypeRequest {
					return
				}
				q, _ := wire.ParseRequest(h, body, nil)
				for _, n := range q.Needs {
					asked = asked || n.Chunk == 0 && n.Missing > 0
				}
			})
			if asked {
				return now.Sub(start)
			}
			now = now.Add(100 * time.Microsecond)
		}
		return -1
	}
	for b := uint32(0); b < 60; b++ { // chunk 0: blocks 0..59, then the sender pauses
		if b != 10 {
			send(b, 0, b)
		}
		now = now.Add(1240 * time.Microsecond)
	}
	paused := partialNeed(80 * time.Millisecond)
	for s := uint32(60); s < 60+movedOnPkts; s++ { // the sender moves on to chunk 1
		send(s, 1, s-60)
		now = now.Add(1240 * time.Microsecond)
	}
	movedOn := partialNeed(time.Second)
	t.Logf("ASSERT no need for chunk 0 during an 80 ms pause (got %v); asked %v after the sender moved on", paused, movedOn)
	if paused >= 0 {
		t.Errorf("asked for chunk 0 %v into the sender's pause", paused)
	}
	if movedOn < 0 {
		t.Errorf("never asked for chunk 0 after the sender moved on")
	}
}
