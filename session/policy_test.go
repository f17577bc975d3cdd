package session

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/simnet"
)

// The session policies stepped with an injected clock: no socket, no sleep.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func rinfo(id uint64, heard time.Time, done bool) mcast.ReceiverInfo {
	return mcast.ReceiverInfo{NodeID: id, FirstHeard: heard, LastHeard: heard, Done: done}
}

func TestSendPolicyWaitsForReceivers(t *testing.T) {
	p := newSendPolicy(SendConfig{MinReceivers: 3, MaxWait: 10 * time.Second, Linger: time.Second}, t0)
	two := []mcast.ReceiverInfo{rinfo(1, t0, false), rinfo(2, t0, false)}
	st, next := p.Step(t0.Add(time.Second), sendView{Receivers: two, Final: true})
	if st.Start || st.End {
		t.Fatalf("2 of 3 receivers: %+v", st)
	}
	if want := t0.Add(10 * time.Second); !next.Equal(want) {
		t.Errorf("next %v, want MaxWait's %v", next, want)
	}
	three := append(two, rinfo(3, t0.Add(2*time.Second), false))
	if st, _ := p.Step(t0.Add(2*time.Second), sendView{Receivers: three, Final: true}); !st.Start {
		t.Fatalf("3 of 3: not started: %+v", st)
	}
	// MaxWait starts with whoever is there.
	p = newSendPolicy(SendConfig{MinReceivers: 3, MaxWait: 10 * time.Second}, t0)
	if st, _ := p.Step(t0.Add(10*time.Second), sendView{Receivers: two, Final: true}); !st.Start {
		t.Fatalf("MaxWait with 2 receivers: %+v", st)
	}
	// MinWait holds data back even when enough receivers are there.
	p = newSendPolicy(SendConfig{MinWait: 3 * time.Second}, t0)
	st, next = p.Step(t0.Add(time.Second), sendView{Receivers: two, Final: true})
	if st.Start || !next.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("MinWait: %+v, next %v", st, next)
	}
	if st, _ := p.Step(next, sendView{Receivers: two, Final: true}); !st.Start {
		t.Fatal("MinWait passed: not started")
	}
}

func TestSendPolicyStartTimeout(t *testing.T) {
	p := newSendPolicy(SendConfig{StartTimeout: 5 * time.Second}, t0)
	st, next := p.Step(t0.Add(time.Second), sendView{Final: true})
	if st.End || !next.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("before the start timeout: %+v, next %v", st, next)
	}
	st, _ = p.Step(next, sendView{Final: true})
	if !st.End || !errors.Is(st.Err, ErrStartTimeout) {
		t.Fatalf("start timeout: %+v", st)
	}
	p = newSendPolicy(SendConfig{MaxWait: 5 * time.Second}, t0)
	if st, _ := p.Step(t0.Add(5*time.Second), sendView{Final: true}); !errors.Is(st.Err, ErrNoReceivers) {
		t.Fatalf("MaxWait with nobody: %+v", st)
	}
}

func TestSendPolicyLostAndLinger(t *testing.T) {
	p := newSendPolicy(SendConfig{ReceiverTimeout: 30 * time.Second, Linger: 500 * time.Millisecond}, t0)
	rs := []mcast.ReceiverInfo{rinfo(1, t0, false), rinfo(2, t0, false)}
	if st, _ := p.Step(t0, sendView{Receivers: rs, Final: true}); !st.Start {
		t.Fatal("not started")
	}
	// Receiver 1 keeps talking, 2 falls silent.
	now := t0.Add(20 * time.Second)
	rs[0].LastHeard = now
	st, next := p.Step(now, sendView{Receivers: rs, Final: true})
	if len(st.Lost) != 0 || st.End {
		t.Fatalf("at 20 s: %+v", st)
	}
	if want := t0.Add(30*time.Second + time.Nanosecond); !next.Equal(want) {
		t.Errorf("next %v, want receiver 2's timeout %v", next, want)
	}
	now = t0.Add(31 * time.Second)
	rs[0].LastHeard = now
	st, _ = p.Step(now, sendView{Receivers: rs, Final: true})
	if len(st.Lost) != 1 || st.Lost[0] != 2 || p.Lost() != 1 {
		t.Fatalf("at 31 s: lost %v (%d)", st.Lost, p.Lost())
	}
	if st, _ := p.Step(now, sendView{Receivers: rs, Final: true}); len(st.Lost) != 0 {
		t.Fatal("a lost receiver is reported once")
	}
	// Receiver 1 completes: the session lingers, then ends.
	rs[0].Done = true
	st, next = p.Step(now, sendView{Receivers: rs, Final: true})
	if st.End || !next.Equal(now.Add(500*time.Millisecond)) {
		t.Fatalf("lingering: %+v, next %v", st, next)
	}
	// Not while the count is not final.
	if st, _ := p.Step(now.Add(time.Second), sendView{Receivers: rs}); st.End {
		t.Fatal("ended with a count not final")
	}
	st, next = p.Step(now.Add(time.Second), sendView{Receivers: rs, Final: true})
	if st.End {
		t.Fatal("the linger restarts when the count became final again")
	}
	st, _ = p.Step(next, sendView{Receivers: rs, Final: true})
	if !st.End || st.Err != nil || p.Lost() != 1 {
		t.Fatalf("after the linger: %+v, lost %d", st, p.Lost())
	}
	// A lost receiver that comes back and completes is not lost.
	rs[1].Done = true
	p.Step(next, sendView{Receivers: rs, Final: true})
	if p.Lost() != 0 {
		t.Fatalf("came back and completed: lost %d", p.Lost())
	}
}

func TestSendPolicyServe(t *testing.T) {
	p := newSendPolicy(SendConfig{Serve: true, IdleTimeout: 10 * time.Second, Linger: time.Second}, t0)
	rs := []mcast.ReceiverInfo{rinfo(1, t0, false)}
	p.Step(t0, sendView{Receivers: rs, Final: true})
	rs[0].Done = true
	now := t0.Add(5 * time.Second)
	st, next := p.Step(now, sendView{Receivers: rs, Final: true})
	if st.End || !next.Equal(now.Add(10*time.Second)) {
		t.Fatalf("serving, idle for 0 s: %+v next %v", st, next)
	}
	// Past the linger nothing ends: a second receiver comes 8 s later.
	now = now.Add(8 * time.Second)
	rs = append(rs, rinfo(2, now, false))
	if st, _ := p.Step(now, sendView{Receivers: rs, Final: true}); st.End {
		t.Fatal("ended while a receiver is at work")
	}
	rs[1].Done = true
	now = now.Add(3 * time.Second)
	if st, _ := p.Step(now, sendView{Receivers: rs, Final: true}); st.End {
		t.Fatal("ended at once after the second completed")
	}
	st, _ = p.Step(now.Add(10*time.Second), sendView{Receivers: rs, Final: true})
	if !st.End || st.Err != nil {
		t.Fatalf("idle 10 s: %+v", st)
	}
	// Nobody ever came: ends after the idle timeout, successfully.
	p = newSendPolicy(SendConfig{Serve: true, IdleTimeout: 10 * time.Second}, t0)
	if st, next := p.Step(t0.Add(time.Second), sendView{Final: true}); st.End || !next.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("serving, nobody yet: %+v next %v", st, next)
	}
	if st, _ := p.Step(t0.Add(10*time.Second), sendView{Final: true}); !st.End || st.Err != nil {
		t.Fatalf("serving, nobody for the idle timeout: %+v", st)
	}
}

func TestRecvPolicy(t *testing.T) {
	// No sender ever: the start timeout.
	p := newRecvPolicy(5*time.Second, 60*time.Second, t0)
	st, next := p.Step(t0.Add(time.Second), recvView{})
	if st.End || !next.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("waiting: %+v next %v", st, next)
	}
	if st, _ := p.Step(next, recvView{}); !errors.Is(st.Err, ErrStartTimeout) {
		t.Fatalf("start timeout: %+v", st)
	}

	// A silent sender: heard, joined, data, then nothing for the receive timeout.
	p = newRecvPolicy(0, 60*time.Second, t0)
	v := recvView{Joined: true, Heard: 10, Blocks: 100}
	p.Step(t0.Add(time.Second), v)
	st, next = p.Step(t0.Add(30*time.Second), v)
	if st.End || !next.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("silent 29 s: %+v next %v", st, next)
	}
	st, _ = p.Step(next, v)
	if !st.End || !errors.Is(st.Err, ErrSenderLost) {
		t.Fatalf("silent 60 s: %+v", st)
	}

	// Announces alone keep a waiting receiver going; silence ends it.
	p = newRecvPolicy(0, 60*time.Second, t0)
	for i := range 10 {
		if st, _ := p.Step(t0.Add(time.Duration(i)*50*time.Second), recvView{Joined: true, Heard: uint64(i + 1)}); st.End {
			t.Fatalf("announces heard, step %d: %+v", i, st)
		}
	}
	st, _ = p.Step(t0.Add(450*time.Second+60*time.Second), recvView{Joined: true, Heard: 10})
	if !errors.Is(st.Err, ErrSenderLost) {
		t.Fatalf("announces stopped: %+v", st)
	}

	// 0 = never.
	p = newRecvPolicy(0, 0, t0)
	if st, _ := p.Step(t0.Add(100*time.Hour), recvView{Joined: true, Heard: 1, Blocks: 1}); st.End {
		t.Fatal("ReceiveTimeout 0 ended")
	}

	// Complete: wait for the acknowledgement at most ackGrace.
	p = newRecvPolicy(0, 0, t0)
	st, next = p.Step(t0, recvView{Joined: true, Complete: true})
	if st.End || !next.Equal(t0.Add(ackGrace)) {
		t.Fatalf("complete, no ack: %+v next %v", st, next)
	}
	if st, _ := p.Step(next, recvView{Joined: true, Complete: true}); !st.End || st.Acked || st.Err != nil {
		t.Fatalf("after the grace: %+v", st)
	}
	if st, _ := p.Step(t0, recvView{Joined: true, Complete: true, Done: true}); !st.End || !st.Acked {
		t.Fatalf("acked: %+v", st)
	}
}

// memSource serves n chunks of fixed bytes.
type memSource struct{ chunks [][]byte }

func (m *memSource) Meta() []byte                { return []byte("policy test") }
func (m *memSource) ChunkCount() (int, bool)     { return len(m.chunks), true }
func (m *memSource) Chunk(i int) ([]byte, error) { return m.chunks[i], nil }

// TestSendPolicySimnet: a real Sender and Receivers on the simulated network, the
// policy stepped with its virtual time: data waits for the second receiver (joining
// 3 s in), a third receiver dies mid-transfer and is declared lost after the receiver
// timeout, and the session ends a linger after the others completed, all in virtual
// time.
func TestSendPolicySimnet(t *testing.T) {
	net := simnet.New(simnet.Config{Seed: 7})
	src := &memSource{}
	for i := range 40 {
		c := make([]byte, 64<<10)
		for j := range c {
			c[j] = byte(i*7 + j)
		}
		src.chunks = append(src.chunks, c)
	}
	sid := [16]byte{9, 9}
	start := net.Now()
	s, err := mcast.NewSender(mcast.SenderConfig{
		SessionID: sid, MaxChunk: 64 << 10, MaxRate: 20_000_000, FixedRate: true, Paused: true,
		Rand: rand.New(rand.NewPCG(7, 1)),
	}, src, start)
	if err != nil {
		t.Fatal(err)
	}
	net.Add(s, simnet.Link{Delay: time.Millisecond})
	var firstData time.Time
	recv := make([]*mcast.Receiver, 3)
	for i := range recv {
		got := 0
		recv[i] = mcast.NewReceiver(mcast.ReceiverConfig{
			SessionID: sid, Rand: rand.New(rand.NewPCG(7, uint64(10+i))),
			Deliver: func(idx int, chunk []byte) error {
				if string(chunk) != string(src.chunks[idx]) {
					return fmt.Errorf("chunk %d corrupt", idx)
				}
				if firstData.IsZero() {
					firstData = net.Now()
				}
				got++
				return nil
			},
		}, start)
	}
	net.Add(recv[0], simnet.Link{Delay: time.Millisecond})
	net.AddAt(recv[1], simnet.Link{Delay: time.Millisecond}, start.Add(3*time.Second))
	dying := net.Add(recv[2], simnet.Link{Delay: time.Millisecond})
	dying.KillAt(start.Add(3*time.Second + 30*time.Millisecond))

	pol := newSendPolicy(SendConfig{MinReceivers: 3, ReceiverTimeout: 5 * time.Second, Linger: 500 * time.Millisecond}, start)
	var started, end time.Time
	var lost []uint64
	net.Run(start.Add(time.Minute), func() bool {
		now := net.Now()
		st, _ := pol.Step(now, sendView{Receivers: s.Receivers(), Final: true})
		if st.Start {
			started = now
			s.SetPaused(false)
		}
		lost = append(lost, st.Lost...)
		if st.End {
			end = now
		}
		return st.End
	})
	if end.IsZero() {
		t.Fatalf("no end within a virtual minute; receivers %+v", s.Receivers())
	}
	at := func(x time.Time) time.Duration { return x.Sub(start).Round(time.Millisecond) }
	t.Logf("ASSERT started at %v (second receiver joined at 3 s), first chunk at %v, lost %v, ended at %v (virtual)",
		at(started), at(firstData), lost, at(end))
	if started.Before(start.Add(3*time.Second)) || firstData.Before(started) {
		t.Errorf("data before the receivers were there: started %v, first chunk %v", at(started), at(firstData))
	}
	if len(lost) != 1 || lost[0] != recv[2].NodeID() {
		t.Errorf("lost %v, want the dying receiver %x", lost, recv[2].NodeID())
	}
	if !recv[0].Complete() || !recv[1].Complete() {
		t.Errorf("receivers complete: %v %v", recv[0].Complete(), recv[1].Complete())
	}
	if d := end.Sub(started); d < 5*time.Second {
		t.Errorf("ended %v after the start, before the dying receiver's timeout", d)
	}
}

// TestServePolicySimnet: serve mode on the simulated network: a receiver at the start
// and one that comes 3 s after the first completed are both served by the same
// sender, which ends the idle timeout after the second completed, in virtual time.
func TestServePolicySimnet(t *testing.T) {
	net := simnet.New(simnet.Config{Seed: 8})
	src := &memSource{}
	for i := range 20 {
		c := make([]byte, 64<<10)
		for j := range c {
			c[j] = byte(i*5 + j)
		}
		src.chunks = append(src.chunks, c)
	}
	sid := [16]byte{8, 8}
	start := net.Now()
	s, err := mcast.NewSender(mcast.SenderConfig{
		SessionID: sid, MaxChunk: 64 << 10, MaxRate: 20_000_000, FixedRate: true, Paused: true,
		Rand: rand.New(rand.NewPCG(8, 1)),
	}, src, start)
	if err != nil {
		t.Fatal(err)
	}
	net.Add(s, simnet.Link{Delay: time.Millisecond})
	done := make([]time.Time, 2)
	recv := make([]*mcast.Receiver, 2)
	for i := range recv {
		recv[i] = mcast.NewReceiver(mcast.ReceiverConfig{
			SessionID: sid, Rand: rand.New(rand.NewPCG(8, uint64(10+i))),
			Deliver: func(idx int, chunk []byte) error {
				if string(chunk) != string(src.chunks[idx]) {
					return fmt.Errorf("chunk %d corrupt", idx)
				}
				return nil
			},
		}, start)
	}
	net.Add(recv[0], simnet.Link{Delay: time.Millisecond})
	pol := newSendPolicy(SendConfig{Serve: true, IdleTimeout: 5 * time.Second, Linger: 500 * time.Millisecond}, start)
	var end time.Time
	added := false
	net.Run(start.Add(2*time.Minute), func() bool {
		now := net.Now()
		for i, r := range recv {
			if done[i].IsZero() && r.Done() {
				done[i] = now
			}
		}
		if !done[0].IsZero() && !added && now.Sub(done[0]) >= 3*time.Second {
			added = true
			net.AddAt(recv[1], simnet.Link{Delay: time.Millisecond}, now)
		}
		st, _ := pol.Step(now, sendView{Receivers: s.Receivers(), Final: true})
		if st.Start {
			s.SetPaused(false)
		}
		if st.End {
			end = now
			if st.Err != nil {
				t.Errorf("serve ended with %v", st.Err)
			}
		}
		return st.End
	})
	at := func(x time.Time) time.Duration { return x.Sub(start).Round(time.Millisecond) }
	t.Logf("ASSERT serving: first receiver done at %v, second (joined 3 s later) done at %v, sender ended at %v (idle timeout 5 s), virtual",
		at(done[0]), at(done[1]), at(end))
	if done[0].IsZero() || done[1].IsZero() {
		t.Fatalf("receivers done: %v %v; sender ended at %v", at(done[0]), at(done[1]), at(end))
	}
	if idle := end.Sub(done[1]); idle < 5*time.Second || idle > 6*time.Second {
		t.Errorf("ended %v after the last receiver was done, want the 5 s idle timeout", idle)
	}
}
