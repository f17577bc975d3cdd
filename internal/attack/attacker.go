package attack

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/discuscast/discus/image"
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
	Wire            byte          // wire version for packets made before any was heard (2 or 3)
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
		cfg.Wire = 3
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

func (a *att) sessionID() image.ID { return image.ID(a.session) }

// forge builds the blocks of a forged chunk 0 of total bytes (0: its own
// 4096-byte span), data blocks or, for forged-parity, parity blocks only.
func (a *att) forge(total int) (blocks [][]byte, idx []uint32, length uint32, err error) {
	var c []byte
	if total == 0 {
		c, err = ForgeChunk0(a.sessionID(), a.chunkSize, 4096, a.cfg.Seed)
	} else {
		c, err = ForgeChunk0Len(a.sessionID(), a.chunkSize, total, a.cfg.Seed)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	data, parity, err := Blocks(c, int(a.ann.BlockSize), int(a.ann.MaxParity))
	if err != nil {
		return nil, nil, 0, err
	}
	if a.cfg.Attack == "forged-data" {
		for i := range data {
			idx = append(idx, uint32(i))
		}
		return data, idx, uint32(len(c)), nil
	}
	for j := range parity {
		idx = append(idx, uint32(len(data)+j))
	}
	if len(parity) < len(data) {
		a.notef("forged chunk of %d bytes: only %d parity blocks for K = %d", len(c), len(parity), len(data))
	}
	return parity, idx, uint32(len(c)), nil
}

func (a *att) forgedRound() {
	if a.forged == nil {
		var err error
		if a.forged, a.forgedIdx, a.forgedLen, err = a.forge(0); err != nil {
			a.notef("forging chunk 0: %v", err)
			a.cfg.Attack = "sniff"
			return
		}
		a.notef("forged chunk 0: %d bytes, %d blocks", a.forgedLen, len(a.forged))
	}
	if L := a.chunkLens[0]; a.cfg.Variant == "real-len" && L != 0 && L != a.forgedLen && !a.forgedLTried {
		a.forgedLTried = true
		var err error
		if a.forgedL, a.forgedLIx, a.forgedLL, err = a.forge(int(L)); err != nil {
			a.notef("forging chunk 0 at the real length %d: %v", L, err)
		} else {
			a.notef("forged chunk 0 at the real length: %d bytes, %d blocks", a.forgedLL, len(a.forgedL))
		}
	}
	a.sendBlocks(a.forged, a.forgedIdx, a.forgedLen)
	if a.forgedL != nil && a.rounds%10 == 0 {
		a.sendBlocks(a.forgedL, a.forgedLIx, a.forgedLL)
	}
}

func (a *att) sendBlocks(blocks [][]byte, idx []uint32, length uint32) {
	for i, b := range blocks {
		a.send(0, &Packet{Data: &Data{Seq: a.lastSeq, Chunk: 0, ChunkLen: length, Block: idx[i],
			MaxParity: uint16(a.ann.MaxParity), Payload: b}}, &a.senderPeer)
	}
}

func (a *att) poisonRound() {
	bs := int(a.ann.BlockSize)
	wrong := uint32(2*bs + 1)
	n := min(uint32(20), a.ann.Chunks)
	payload := make([]byte, bs)
	for c := range n {
		if real, ok := a.chunkLens[c]; ok && real == wrong {
			continue
		}
		for blk := range uint32(2) {
			for i := range payload {
				payload[i] = byte(a.rng.Uint32())
			}
			a.send(0, &Packet{Data: &Data{Seq: a.lastSeq, Chunk: c, ChunkLen: wrong, Block: blk,
				MaxParity: uint16(a.ann.MaxParity), Payload: payload}}, &a.senderPeer)
		}
	}
}

func (a *att) announceRound() {
	ann := *a.ann
	switch a.cfg.Variant {
	case "max":
		ann.Chunks = 0xffffffff
	case "plus1":
		ann.Chunks++
	case "meta":
		ann.Meta = ChangeMeta(a.ann.Meta)
	}
	a.send(0, &Packet{Header: Header{Node: a.sender, Flags: a.annFlags}, Announce: &ann}, &a.senderPeer)
}

func (a *att) fakeDoneRound() {
	for _, id := range a.rxOrder {
		a.send(1, &Packet{Header: Header{Node: id, Flags: FlagDone},
			Report: &Report{Progress{Done: a.ann.Chunks, Known: a.ann.Chunks, Seen: a.lastSeq + 1}}}, a.receivers[id])
	}
}

// flood sends forged requests at the variant's rate once data flows: big =
// 10/s of 64 needs × 32768 missing blocks; small10 / small1000 = 10 or 1000
// one-need whole-chunk requests a second. Node IDs rotate over 8 invented ones.
func (a *att) flood(now time.Time) {
	if !a.seenData {
		return
	}
	rate := 10.0
	if a.cfg.Variant == "small1000" {
		rate = 1000
	}
	if a.lastRound.IsZero() {
		a.lastRound = now
	}
	a.floodSent += rate * now.Sub(a.lastRound).Seconds()
	a.lastRound = now
	a.floodSent = min(a.floodSent, rate/10+1)
	chunks := max(a.ann.Chunks, 1)
	for ; a.floodSent >= 1; a.floodSent-- {
		a.rounds++
		q := &Request{Progress: Progress{Known: chunks, Loss: 0xffff, Recent: 0xffff, Seen: a.lastSeq + 1}}
		if a.cfg.Variant == "big" {
			for i := range uint32(MaxNeeds) {
				q.Needs = append(q.Needs, Need{Chunk: i * chunks / MaxNeeds % chunks, Missing: 32768})
			}
		} else {
			q.Needs = []Need{{Chunk: uint32(a.rng.IntN(int(chunks)))}}
		}
		id := a.fakeIDs[a.rounds%len(a.fakeIDs)]
		p := a.receivers[id]
		if p == nil {
			p = &peer{}
			a.receivers[id] = p // never in rxOrder: not a real receiver
		}
		a.send(1, &Packet{Header: Header{Node: id}, Request: q}, p)
	}
}

// bitflip re-sends 1 % of the data packets heard with bits flipped (in the
// payload, or for variant seq in the seq field) and the CRC recomputed.
func (a *att) bitflip(d Datagram) {
	if a.rng.IntN(100) != 0 {
		return
	}
	b := append([]byte(nil), d.B...)
	tl := TrailerLen(b[4], b[6])
	lo, hi := HeaderLen+28, len(b)-tl
	if a.cfg.Variant == "seq" {
		lo, hi = HeaderLen, HeaderLen+4
	}
	if hi <= lo {
		return
	}
	for range 1 + a.rng.IntN(3) {
		bit := lo*8 + a.rng.IntN((hi-lo)*8)
		b[bit/8] ^= 1 << (bit % 8)
	}
	if a.keyer != nil && tl == TagLen {
		// An insider relay re-tags the corrupted copy as the sender's
		// next packet.
		if b = a.insiderSeal(b[:len(b)-TagLen], &a.senderPeer); b == nil {
			return
		}
	}
	Reseal(b)
	a.sendRaw(d.Port, b)
}

func (a *att) replayTick(now time.Time) {
	if !a.haveSess {
		return
	}
	if a.cfg.Variant == "live" {
		if a.replay == nil {
			if now.Sub(a.sessAt) < a.cfg.RecordFor {
				return
			}
			a.replay, a.rec = a.rec, nil
			a.recording = a.cfg.Record != ""
			a.notef("recorded %d packets; replaying them", len(a.replay))
			if len(a.replay) == 0 {
				a.cfg.Attack = "sniff"
				return
			}
			base := a.replay[0].off
			for i := range a.replay {
				a.replay[i].off -= base
			}
		}
	}
	if len(a.replay) == 0 {
		return
	}
	if a.replayAt.IsZero() {
		a.replayAt = now
	}
	for sent := 0; sent < 2000; sent++ {
		if a.replayPos == len(a.replay) {
			a.replayPos, a.replayAt = 0, now
			a.rounds++
			return
		}
		r := a.replay[a.replayPos]
		if now.Sub(a.replayAt) < r.off {
			return
		}
		a.sendRaw(r.port, r.b)
		a.replayPos++
	}
}

// Recording files: "MCAR1\n", then per packet: port u8, offset ns i64, len
// u32, bytes (big endian).
const recMagic = "MCAR1\n"

// WriteRecording stores packets heard.
func WriteRecording(path string, rec []recorded) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString(recMagic)
	for _, r := range rec {
		var h [13]byte
		h[0] = byte(r.port)
		binary.BigEndian.PutUint64(h[1:], uint64(r.off))
		binary.BigEndian.PutUint32(h[9:], uint32(len(r.b)))
		w.Write(h[:])
		w.Write(r.b)
	}
	return errors.Join(w.Flush(), f.Close())
}

// ReadRecording loads a recording, offsets made relative to its first packet.
func ReadRecording(path string) ([]recorded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	m := make([]byte, len(recMagic))
	if _, err := io.ReadFull(r, m); err != nil || string(m) != recMagic {
		return nil, fmt.Errorf("%s: not a recording", path)
	}
	var out []recorded
	for {
		var h [13]byte
		if _, err := io.ReadFull(r, h[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(h[9:])
		if n > 65536 {
			return nil, fmt.Errorf("%s: packet of %d bytes", path, n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		out = append(out, recorded{port: int(h[0]), off: time.Duration(binary.BigEndian.Uint64(h[1:])), b: b})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].off < out[j].off })
	if len(out) > 0 {
		base := out[0].off
		for i := range out {
			out[i].off -= base
		}
	}
	return out, nil
}
