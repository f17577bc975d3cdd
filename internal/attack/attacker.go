package attack

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Attacks lists what Run can mount; Variants the choices each takes (the
// first is the default).
var Variants = map[string][]string{
	"forged-data":      {"own", "real-len"},
	"forged-parity":    {"own", "real-len"},
	"poison-lengths":   {""},
	"hostile-announce": {"max", "plus1", "meta"},
	"fake-done":        {""},
	"request-flood":    {"big", "small10", "small1000"},
	"bitflip-relay":    {"payload", "seq"},
	"replay":           {"live", "file"},
	"record":           {""},
	"sniff":            {""},
}

// Config says which attack to mount and for how long.
type Config struct {
	Attack, Variant string
	Wire            byte          // wire version for packets made before any was heard (2, 3 or 4)
	Duration        time.Duration // hard limit of the whole run
	Quiet           time.Duration // end once the session has been silent this long
	Wait            time.Duration // end if no session was heard within this
	Interval        time.Duration // between two rounds of an attack
	RecordFor       time.Duration // replay live: record this long, then replay
	Record          string        // write every packet heard to this file
	Replay          string        // replay file: the recording to replay
	Seed            uint64
	Log             io.Writer // nil: silent
	// Key, if set, makes the attacker an insider: it holds the group key
	// (not the signing key), checks the tags it hears and tags its
	// forgeries validly.
	Key string
}

// Result is what the attacker did, printed as one JSON line.
type Result struct {
	Attack       string         `json:"attack"`
	Variant      string         `json:"variant,omitempty"`
	Session      string         `json:"session,omitempty"`
	Wire         int            `json:"wire"`
	KeyedSession bool           `json:"keyed_session"`
	Sender       string         `json:"sender,omitempty"`
	Receivers    []string       `json:"receivers,omitempty"`
	Heard        int            `json:"heard_packets"`
	HeardSender  int64          `json:"heard_sender_bytes"` // bytes of the sender's packets heard (UDP payload)
	HeardBad     map[string]int `json:"heard_bad,omitempty"`
	SentPackets  int            `json:"sent_packets"`
	SentBytes    int64          `json:"sent_bytes"` // UDP payload bytes
	SentByType   map[string]int `json:"sent_by_type,omitempty"`
	Recorded     int            `json:"recorded_packets,omitempty"`
	Insider      bool           `json:"insider,omitempty"`
	TagsOK       int            `json:"tags_ok,omitempty"`  // insider: heard packets whose tag verified
	TagsBad      int            `json:"tags_bad,omitempty"` // insider: heard keyed packets whose tag did not`
	Elapsed      float64        `json:"elapsed_seconds"`
	Ended        string         `json:"ended"`
	Notes        []string       `json:"notes,omitempty"`
	Error        string         `json:"error,omitempty"`
}

type peer struct {
	epoch, counter uint64
	keyed          bool
	forged         uint64 // insider: the last counter it used for this node
}

type recorded struct {
	port int
	off  time.Duration
	b    []byte
}

type att struct {
	cfg   Config
	keyer *Keyer
	net   Net
	rng   *rand.Rand
	res   Result
	start time.Time

	version    byte
	session    [16]byte
	haveSess   bool
	sessAt     time.Time
	lastHeard  time.Time
	sender     uint64
	senderPeer peer
	ann        *Announce
	annFlags   byte
	keyed      bool
	lastSeq    uint32
	seenData   bool
	chunkLens  map[uint32]uint32
	receivers  map[uint64]*peer
	rxOrder    []uint64
	chunkSize  uint32

	rec       []recorded
	recording bool
	replay    []recorded
	replayAt  time.Time
	replayPos int

	lastRound time.Time
	rounds    int
	nforged   int
	floodSent float64
	fakeIDs   []uint64

	forged, forgedL      [][]byte // blocks to send, each a (block index, payload) pair via forgedIdx
	forgedIdx, forgedLIx []uint32
	forgedLen, forgedLL  uint32
	forgedLTried         bool
}

// Run mounts cfg.Attack on the group n until the session ends, cfg.Duration
// passes or ctx is done.
func Run(ctx context.Context, n Net, cfg Config) Result {
	if cfg.Interval <= 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = 1500 * time.Millisecond
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Second
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 20 * time.Second
	}
	if cfg.RecordFor <= 0 {
		cfg.RecordFor = time.Second
	}
	if cfg.Wire == 0 {
		cfg.Wire = 4
	}
	if cfg.Variant == "" && len(Variants[cfg.Attack]) > 0 {
		cfg.Variant = Variants[cfg.Attack][0]
	}
	a := &att{cfg: cfg, net: n, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(time.Now().UnixNano()))),
		start: time.Now(), version: cfg.Wire, chunkLens: map[uint32]uint32{}, receivers: map[uint64]*peer{}}
	a.res = Result{Attack: cfg.Attack, Variant: cfg.Variant, HeardBad: map[string]int{}, SentByType: map[string]int{}}
	if _, ok := Variants[cfg.Attack]; !ok {
		a.res.Error = fmt.Sprintf("unknown attack %q", cfg.Attack)
		return a.res
	}
	ok := false
	for _, v := range Variants[cfg.Attack] {
		ok = ok || v == cfg.Variant
	}
	if !ok {
		a.res.Error = fmt.Sprintf("attack %s has no variant %q (%v)", cfg.Attack, cfg.Variant, Variants[cfg.Attack])
		return a.res
	}
	if cfg.Key != "" {
		var err error
		if a.keyer, err = LoadKeyer(cfg.Key); err != nil {
			a.res.Error = err.Error()
			return a.res
		}
		a.res.Insider = true
	}
	a.recording = cfg.Record != "" || cfg.Attack == "replay" && cfg.Variant == "live"
	if cfg.Attack == "replay" && cfg.Variant == "file" {
		var err error
		if a.replay, err = ReadRecording(cfg.Replay); err != nil {
			a.res.Error = err.Error()
			return a.res
		}
		a.notef("loaded %d recorded packets", len(a.replay))
	}
	for range 8 {
		a.fakeIDs = append(a.fakeIDs, a.rng.Uint64())
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	hard := time.NewTimer(cfg.Duration)
	defer hard.Stop()
loop:
	for {
		select {
		case d := <-n.Recv():
			a.hear(d)
			continue
		case <-ctx.Done():
			a.res.Ended = "interrupted"
			break loop
		case <-hard.C:
			a.res.Ended = "duration"
			break loop
		case now := <-tick.C:
			a.tick(now)
		}
		now := time.Now()
		if a.haveSess && now.Sub(a.lastHeard) > cfg.Quiet {
			a.res.Ended = "session silent"
			break
		}
		if !a.haveSess && now.Sub(a.start) > cfg.Wait {
			a.res.Ended = "no session heard"
			break
		}
	}
	a.finish()
	return a.res
}

func (a *att) notef(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	a.res.Notes = append(a.res.Notes, s)
	if a.cfg.Log != nil {
		fmt.Fprintf(a.cfg.Log, "mcattack: %s\n", s)
	}
}

func (a *att) finish() {
	a.res.Elapsed = time.Since(a.start).Seconds()
	if a.haveSess {
		a.res.Session = hex.EncodeToString(a.session[:])
		a.res.Sender = fmt.Sprintf("%016x", a.sender)
	}
	a.res.Wire = int(a.version)
	a.res.KeyedSession = a.keyed
	for _, id := range a.rxOrder {
		a.res.Receivers = append(a.res.Receivers, fmt.Sprintf("%016x", id))
	}
	a.res.Recorded = len(a.rec)
	if a.cfg.Record != "" {
		if err := WriteRecording(a.cfg.Record, a.rec); err != nil && a.res.Error == "" {
			a.res.Error = err.Error()
		}
	}
}

var typeNames = map[byte]string{TypeAnnounce: "announce", TypeData: "data", TypeRequest: "request", TypeReport: "report", TypeAck: "ack"}

func (a *att) hear(d Datagram) {
	pk, err := Decode(d.B)
	if err == nil && !a.haveSess && pk.Announce != nil {
		a.haveSess, a.session, a.sessAt = true, pk.Session, d.At
		a.version = pk.Version
		a.sender = pk.Node
		a.notef("session %x from sender %016x (wire %d, keyed %v) after %v", pk.Session, pk.Node, pk.Version, pk.Keyed,
			d.At.Sub(a.start).Round(time.Millisecond))
	}
	if a.recording && (a.cfg.Attack != "replay" || a.haveSess && d.At.Sub(a.sessAt) < a.cfg.RecordFor) {
		a.rec = append(a.rec, recorded{port: d.Port, off: d.At.Sub(a.start), b: d.B})
	}
	if err != nil {
		switch {
		case errors.Is(err, ErrCRC):
			a.res.HeardBad["crc"]++
		case errors.Is(err, ErrVersion):
			a.res.HeardBad["version"]++
		default:
			a.res.HeardBad["other"]++
		}
		return
	}
	if !a.haveSess {
		return
	}
	if pk.Session != a.session {
		a.res.HeardBad["foreign"]++
		return
	}
	a.res.Heard++
	a.lastHeard = d.At
	if a.keyer != nil && pk.Keyed {
		if a.keyer.Verify(d.B) {
			a.res.TagsOK++
		} else {
			a.res.TagsBad++
		}
	}
	if pk.Node == a.sender && (pk.Announce != nil || pk.Data != nil || pk.Ack != nil) {
		a.res.HeardSender += int64(len(d.B))
	}
	if pk.Keyed {
		a.keyed = true
	}
	switch {
	case pk.Announce != nil:
		ann := *pk.Announce
		ann.Meta = append([]byte(nil), ann.Meta...)
		a.ann, a.annFlags, a.sender = &ann, pk.Flags&^FlagAuth, pk.Node
		a.track(&a.senderPeer, pk)
		if a.chunkSize == 0 {
			if h, _, err := SplitMeta(ann.Meta); err == nil {
				a.chunkSize = h.ChunkSize
			} else {
				a.chunkSize = ann.MaxChunk
			}
		}
	case pk.Data != nil:
		if pk.Node == a.sender {
			a.track(&a.senderPeer, pk)
		}
		if !a.seenData || int32(pk.Data.Seq-a.lastSeq) > 0 {
			a.lastSeq = pk.Data.Seq
		}
		a.seenData = true
		if _, ok := a.chunkLens[pk.Data.Chunk]; !ok {
			a.chunkLens[pk.Data.Chunk] = pk.Data.ChunkLen
		}
		if a.cfg.Attack == "bitflip-relay" {
			a.bitflip(d)
		}
	case pk.Request != nil, pk.Report != nil:
		p := a.receivers[pk.Node]
		if p == nil {
			p = &peer{}
			a.receivers[pk.Node] = p
			a.rxOrder = append(a.rxOrder, pk.Node)
		}
		a.track(p, pk)
	}
}

func (a *att) track(p *peer, pk *Packet) {
	if pk.Keyed {
		p.keyed = true
		if pk.Epoch != p.epoch || pk.Counter > p.counter {
			p.epoch, p.counter = pk.Epoch, pk.Counter
		}
	}
}

// send seals and sends one packet as if from p: with a CRC, or in a keyed
// session every other time with p's epoch, a counter (p's next, or one far
// ahead) and a random tag (the attacker cannot compute one).
func (a *att) send(port int, pk *Packet, p *peer) {
	pk.Version = a.version
	pk.Session = a.session
	if a.keyer != nil && a.keyed && a.version >= 3 {
		pk.Flags |= FlagAuth
		b := Encode(pk, nil)
		if b = a.insiderSeal(b[:len(b)-TagLen], p); b != nil {
			a.sendRaw(port, b)
		}
		return
	}
	var tr []byte
	// In a keyed session every other forgery carries a made-up tag, the
	// others go keyless (a CRC): a keyed node must refuse both.
	a.nforged++
	if a.keyed && a.version >= 3 && a.nforged%2 == 0 {
		pk.Flags |= FlagAuth
		tr = make([]byte, TagLen)
		epoch := p.epoch
		if epoch == 0 {
			epoch = a.senderPeer.epoch
		}
		// The counter the node will use next (a replay window that moved
		// before the tag was checked would then refuse the real packet), or
		// every fourth time one far ahead.
		counter := p.counter + 1
		if a.nforged%8 == 0 {
			counter += 1 << 20
		}
		binary.BigEndian.PutUint64(tr, epoch)
		binary.BigEndian.PutUint64(tr[8:], counter)
		for i := 16; i < TagLen; i++ {
			tr[i] = byte(a.rng.Uint32())
		}
	}
	a.sendRaw(port, Encode(pk, tr))
}

// insiderSeal tags b (without trailer) as p's next packet in its run.
func (a *att) insiderSeal(b []byte, p *peer) []byte {
	epoch := p.epoch
	if epoch == 0 {
		epoch = a.senderPeer.epoch
	}
	p.forged = max(p.forged, p.counter) + 1
	out, err := a.keyer.Seal(b, epoch, p.forged)
	if err != nil {
		a.res.HeardBad["seal-error"]++
		return nil
	}
	return out
}

func (a *att) sendRaw(port int, b []byte) {
	if err := a.net.Send(port, b); err != nil {
		a.res.HeardBad["send-error"]++
		return
	}
	a.res.SentPackets++
	a.res.SentBytes += int64(len(b))
	if len(b) > 5 {
		a.res.SentByType[typeNames[b[5]]]++
	}
}

func (a *att) tick(now time.Time) {
	switch a.cfg.Attack {
	case "replay":
		a.replayTick(now)
		return
	case "record", "sniff", "bitflip-relay":
		return
	}
	if a.ann == nil {
		return
	}
	if a.cfg.Attack == "request-flood" {
		a.flood(now)
		return
	}
	every := a.cfg.Interval
	if a.cfg.Attack == "poison-lengths" {
		every = 5 * a.cfg.Interval
	}
	if now.Sub(a.lastRound) < every {
		return
	}
	a.lastRound = now
	a.rounds++
	switch a.cfg.Attack {
	case "forged-data", "forged-parity":
		a.forgedRound()
	case "poison-lengths":
		a.poisonRound()
	case "hostile-announce":
		a.announceRound()
	case "fake-done":
		a.fakeDoneRound()
	}
}
