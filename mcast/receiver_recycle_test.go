package mcast

import (
	"bytes"
	"testing"
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast/wire"
)

// TestRepairAfterParityUsedUp: a receiver one block short of a chunk whose every
// parity index it has seen asks for K blocks, not for the one it misses: the sender
// recycles blocks in turn once parity is used up, so "1 more" brought back a block or
// three a round, most of them held (a receiver missing one data block asked twice a
// second for 70 s in bench/clonezilla.sh).
func TestRepairAfterParityUsedUp(t *testing.T) {
	now := time.Unix(0, 0)
	const bs = 128
	chunk := bytes.Repeat([]byte("parity used up "), 4000/15)
	enc, err := fec.NewEncoder(fec.Params{BlockSize: bs}, chunk)
	if err != nil {
		t.Fatal(err)
	}
	k, m := enc.K(), enc.M()
	r := NewReceiver(ReceiverConfig{}, now)
	r.Handle(wire.AppendAnnounce(nil, testHeader, &wire.Announce{Final: true, Rate: 1e6, Chunks: 1, MaxChunk: 4096, BlockSize: bs}), now)
	// K-1 distinct blocks: every parity block and all data but the first m+1.
	seq := uint32(0)
	for i := m + 1; i < k+m; i++ {
		b, err := enc.Block(i)
		if err != nil {
			t.Fatal(err)
		}
		r.Handle(wire.AppendData(nil, testHeader, &wire.Data{Seq: seq, ChunkLen: uint32(len(chunk)), Block: uint32(i), Payload: b}), now)
		seq++
	}
	var need *wire.Need
	for range 200 {
		now = r.Poll(now.Add(10*time.Millisecond), func(p []byte) {
			h, body, err := wire.ParseHeader(p)
			if err != nil || h.Type != wire.TypeRequest || need != nil {
				return
			}
			q, err := wire.ParseRequest(h, body, nil)
			if err != nil || len(q.Needs) == 0 {
				return
			}
			need = &q.Needs[0]
		})
		if need != nil {
			break
		}
	}
	if need == nil {
		t.Fatal("no request")
	}
	if need.Missing != uint32(k) || need.NextParity != uint32(m) {
		t.Fatalf("asked for %d blocks (next parity %d), want K = %d (next parity %d)", need.Missing, need.NextParity, k, m)
	}
}
