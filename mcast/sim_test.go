package mcast_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/simnet"
	"github.com/discuscast/discus/mcast/wire"
)

// testSource is a deterministic in-memory image: chunk i is pseudo-random bytes of a
// length that varies around chunkLen.
type testSource struct {
	meta   []byte
	chunks [][]byte
	sums   []uint64
	count  int // chunks announced so far (for a growing source)
	final  bool
}

func newTestSource(seed uint64, n, chunkLen int) *testSource {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &testSource{meta: []byte(fmt.Sprintf("test image seed=%d chunks=%d", seed, n)), count: n, final: true}
	for i := range n {
		l := chunkLen - rng.IntN(chunkLen/8+1)
		if i == n-1 {
			l = 1 + rng.IntN(chunkLen)
		}
		b := make([]byte, l)
		for j := 0; j < l; j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < l; k++ {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		s.chunks = append(s.chunks, b)
		s.sums = append(s.sums, xxhash.Sum64(b))
	}
	return s
}

func (s *testSource) Meta() []byte                { return s.meta }
func (s *testSource) ChunkCount() (int, bool)     { return s.count, s.final }
func (s *testSource) Chunk(i int) ([]byte, error) { return s.chunks[i], nil }

func (s *testSource) blocks(blockSize int) int {
	n := 0
	for _, c := range s.chunks {
		n += (len(c) + blockSize - 1) / blockSize
	}
	return n
}

// simCase describes one simulation.
type simCase struct {
	seed      uint64
	receivers int
	chunks    int
	chunkLen  int
	blockSize int
	rate      int64 // fixed rate; 0 = adaptive
	maxRate   int64
	link      simnet.Link // every receiver's link
	special   *simnet.Link
	delay     time.Duration
	lateUntil time.Duration // receivers join at random times in [0, lateUntil)
	replaceAt time.Duration // the sender dies and a new one takes over
	limit     time.Duration // virtual time allowed
	startRate int64         // adaptive start rate
	src       func(net *simnet.Network) *testSource
	corrupt   int                   // receiver 0 rejects the first delivery of this many chunks
	dieAt     map[int]time.Duration // receivers that die at these times
	extra     func(net *simnet.Network)
}

// simResult is what a simulation measured.
type simResult struct {
	c            simCase
	src          *testSource
	sender       mcast.SenderStats
	senders      []*mcast.Sender
	recvs        []*mcast.Receiver
	finished     []time.Duration // per receiver: when it completed (-1 = never)
	senderPkts   uint64
	receiverPkts uint64
	end          time.Duration
	net          *simnet.Network
}

func (r *simResult) lastFinish(skip int) time.Duration {
	var m time.Duration
	for i, f := range r.finished {
		if i != skip && f > m {
			m = f
		}
	}
	return m
}

func runSim(t testing.TB, c simCase) *simResult {
	t.Helper()
	return runSimSource(t, c, nil)
}

// runSimSource is runSim with the sender serving what serve returns (nil = the test
// source itself).
func runSimSource(t testing.TB, c simCase, serve func() mcast.ChunkSource) *simResult {
	t.Helper()
	if c.blockSize == 0 {
		c.blockSize = 128
	}
	if c.chunkLen == 0 {
		c.chunkLen = 750 * c.blockSize
	}
	if c.limit == 0 {
		c.limit = 10 * time.Minute
	}
	if c.delay == 0 {
		c.delay = 500 * time.Microsecond
	}
	net := simnet.New(simnet.Config{Seed: c.seed})
	var src *testSource
	if c.src != nil {
		src = c.src(net)
	} else {
		src = newTestSource(c.seed, c.chunks, c.chunkLen)
	}
	start := net.Now()
	sid := [16]byte{1, 2, 3, byte(c.seed)}
	var served mcast.ChunkSource = src
	if serve != nil {
		served = serve()
	}
	res := &simResult{c: c, src: src, net: net, finished: make([]time.Duration, c.receivers)}
	newSender := func(seed uint64) *mcast.Sender {
		s, err := mcast.NewSender(mcast.SenderConfig{
			SessionID: sid, BlockSize: c.blockSize, MaxChunk: c.chunkLen,
			MaxRate: max(c.rate, c.maxRate), FixedRate: c.rate > 0, StartRate: c.startRate,
			Rand: rand.New(rand.NewPCG(seed, 2)), Logger: simLogger(net),
		}, served, net.Now())
		if err != nil {
			t.Fatal(err)
		}
		res.senders = append(res.senders, s)
		return s
	}
	sp := net.Add(newSender(c.seed), simnet.Link{Delay: c.delay})
	ports := []*simnet.Port{sp}
	if c.replaceAt > 0 {
		sp.KillAt(start.Add(c.replaceAt))
		ports = append(ports, net.AddAt(newSender(c.seed+1000), simnet.Link{Delay: c.delay}, start.Add(c.replaceAt+50*time.Millisecond)))
	}
	jr := rand.New(rand.NewPCG(c.seed, 3))
	rejected, rejectedChunk := 0, map[int]bool{}
	if c.extra != nil {
		c.extra(net)
	}
	bad := 0
	var rports []*simnet.Port
	for i := range c.receivers {
		res.finished[i] = -1
		got := make([]bool, c.chunks)
		var rc *mcast.Receiver
		var rlog *slog.Logger
		if i < 100 {
			rlog = simLogger(net)
		}
		rc = mcast.NewReceiver(mcast.ReceiverConfig{
			Rand: rand.New(rand.NewPCG(c.seed, uint64(100+i))), Logger: rlog,
			OnSession: func(si mcast.SessionInfo) error {
				if string(si.Meta) != string(src.meta) {
					return fmt.Errorf("meta %q", si.Meta)
				}
				return nil
			},
		}, net.Now())
		// The consumer takes the chunks the receiver hands out (Ready), rebuilds and
		// checks each and settles it, as a session does on its workers.
		check := func(idx int, chunk []byte) error {
			if i == 0 && rejected < c.corrupt && !rejectedChunk[idx] {
				rejected++
				rejectedChunk[idx] = true
				return fmt.Errorf("test: chunk %d rejected once", idx)
			}
			if xxhash.Sum64(chunk) != src.sums[idx] || len(chunk) != len(src.chunks[idx]) {
				bad++
				return fmt.Errorf("chunk %d corrupt", idx)
			}
			if got[idx] {
				t.Errorf("receiver %d: chunk %d delivered twice", i, idx)
			}
			got[idx] = true
			return nil
		}
		res.recvs = append(res.recvs, rc)
		link := c.link
		link.Delay = c.delay
		if i == 0 && c.special != nil {
			link = *c.special
			link.Delay = c.delay
		}
		join := start
		if c.lateUntil > 0 {
			join = start.Add(time.Duration(jr.Int64N(int64(c.lateUntil))))
		}
		rp := net.AddAt(&readyNode{r: rc, check: check}, link, join)
		if d, ok := c.dieAt[i]; ok {
			rp.KillAt(start.Add(d))
		}
		rports = append(rports, rp)
	}
	_, dead := func() (int, func(int) bool) { return 0, func(i int) bool { _, ok := c.dieAt[i]; return ok } }()
	done := 0
	stop := func() bool {
		for done < len(res.recvs) && (dead(done) || res.recvs[done].Done()) {
			done++
		}
		for i, r := range res.recvs {
			if res.finished[i] < 0 && r.Complete() {
				res.finished[i] = net.Now().Sub(start)
			}
		}
		return done == len(res.recvs)
	}
	net.Run(start.Add(c.limit), stop)
	res.end = net.Now().Sub(start)
	for _, p := range ports {
		res.senderPkts += p.Stats().Sent
	}
	for _, p := range rports {
		res.receiverPkts += p.Stats().Sent
	}
	res.sender = res.senders[len(res.senders)-1].Stats()
	if bad > 0 {
		t.Errorf("%d corrupt chunk deliveries", bad)
	}
	for i, r := range res.recvs {
		if !dead(i) && (!r.Complete() || !r.Done()) {
			st := r.Stats()
			t.Errorf("receiver %d not done after %v: complete=%v chunks %d/%d partials=%d err=%v stats=%+v",
				i, res.end, r.Complete(), st.ChunksDone, st.ChunksTotal, st.Partials, r.Err(), st)
			if i > 5 {
				break
			}
		}
	}
	return res
}

func logResult(t testing.TB, name string, r *simResult) {
	t.Helper()
	c := r.c
	var reqs, reports, supp, lost, whole, needs uint64
	var drops wire.Drops
	for _, rc := range r.recvs {
		st := rc.Stats()
		for i, v := range st.Drops {
			drops[i] += v
		}
		reqs += st.Requests
		whole += st.WholeNeeds
		needs += st.NeedsSent
		reports += st.Reports
		supp += st.NeedsSuppressed
		lost += st.Lost
	}
	s := r.sender
	blocks := r.src.blocks(c.blockSize)
	var dataParity uint64
	for _, snd := range r.senders {
		st := snd.Stats()
		dataParity += st.DataBlocks + st.ParityBlocks
	}
	fin := append([]time.Duration(nil), r.finished...)
	slices.Sort(fin)
	t.Logf("%s: %d receivers, %d chunks, %d data blocks; complete at %v / %v / %v (first/median/last, virtual), all done at %v, sim events %d",
		name, c.receivers, c.chunks, blocks, fin[0].Round(time.Microsecond), fin[len(fin)/2].Round(time.Microsecond),
		fin[len(fin)-1].Round(time.Microsecond), r.end.Round(time.Microsecond), r.net.Events)
	t.Logf("  sender: %d packets (data+parity %d = %.4f x data blocks; data %d parity %d side %d announces %d acks %d) rate %d B/s; needs %d merged %d; drops %s",
		r.senderPkts, dataParity, float64(dataParity)/float64(blocks), s.DataBlocks, s.ParityBlocks, s.SideBlocks, s.Announces, s.Acks, s.Rate, s.Needs, s.NeedsMerged, s.Drops.String())
	t.Logf("  receivers: %d packets = %.3f%% of sender's (requests %d with %d needs, %d whole; reports %d, suppressed needs %d), lost %d, drops %s; receiver 0 srtt %v",
		r.receiverPkts, 100*float64(r.receiverPkts)/float64(r.senderPkts), reqs, needs, whole, reports, supp, lost, drops.String(), r.recvs[0].Stats().RTT)
}

func TestSimSmoke(t *testing.T) {
	c := simCase{seed: 1, receivers: 10, chunks: 8, rate: 10_000_000, link: simnet.Link{Loss: 0.05}}
	r := runSim(t, c)
	logResult(t, t.Name(), r)
}

// simLogger logs the sender at debug level with virtual timestamps when SIMLOG is set.
func simLogger(net *simnet.Network) *slog.Logger {
	if os.Getenv("SIMLOG") == "" {
		return nil
	}
	start := net.Now()
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Duration("t", net.Now().Sub(start))
			}
			return a
		}}))
}

// readyNode drives a Receiver's deliveries as outputs: after every Handle and Poll it
// takes the chunks Ready hands out, rebuilds each (Dec.Bytes), checks it and settles it.
type readyNode struct {
	r     *mcast.Receiver
	check func(int, []byte) error
}

func (n *readyNode) Handle(pkt []byte, now time.Time) {
	n.r.Handle(pkt, now)
	n.settle(now)
}

func (n *readyNode) Poll(now time.Time, emit func([]byte)) time.Time {
	next := n.r.Poll(now, emit)
	if n.r.HasReady() {
		n.settle(now)
		next = n.r.Poll(now, emit) // what the outcomes changed is due now
	}
	return next
}

func (n *readyNode) settle(now time.Time) {
	for _, d := range n.r.Ready() {
		b, err := d.Dec.Bytes()
		if err == nil {
			err = n.check(d.Index, b)
		}
		if err == nil {
			d.Dec.Release()
		}
		n.r.Settle(d.Index, err, now)
	}
}
