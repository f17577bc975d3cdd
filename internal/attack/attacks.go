package attack

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/discuscast/discus/image"
)

// The attacks themselves, one round each, and recording/replay (split from attacker.go).

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
			Report: &Report{Progress: Progress{Done: a.ann.Chunks, Known: a.ann.Chunks, Seen: a.lastSeq + 1}}}, a.receivers[id])
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
