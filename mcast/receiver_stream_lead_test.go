package mcast

import (
	"bytes"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// TestStreamLeadPastFullWindow: a receiver that joined a stream before its count was
// final fills its window with chunks the consumer defers until the manifest (the lead
// chunks of the final announce) is in. The lead chunks must still get in, or nothing
// is ever checked: bench/clonezilla.sh caught `mcsend DISK` (an image made while sent)
// stranding every receiver this way, 7 GB on the wire and exit 5.
func TestStreamLeadPastFullWindow(t *testing.T) {
	now := time.Unix(0, 0)
	const bs, nimg, lead = 1024, 30, 2
	leadIn := false
	r := NewReceiver(ReceiverConfig{
		Deliver: func(i int, b []byte) error {
			if i >= nimg {
				leadIn = true
				return nil
			}
			if !leadIn {
				return ErrDeferred // an image chunk waits for the manifest
			}
			return nil
		},
	}, now)
	ann := func(chunks uint32, final bool, l uint32) {
		r.Handle(wire.AppendAnnounce(nil, testHeader, &wire.Announce{Final: final, Rate: 1e6, Chunks: chunks,
			MaxChunk: 4096, BlockSize: bs, Lead: l}), now)
	}
	seq := uint32(0)
	send := func(c int) {
		chunk := bytes.Repeat([]byte{byte(c)}, 2*bs)
		for b := range 2 {
			r.Handle(wire.AppendData(nil, testHeader, &wire.Data{Seq: seq, Chunk: uint32(c), ChunkLen: uint32(len(chunk)),
				Block: uint32(b), Payload: chunk[b*bs : (b+1)*bs]}), now)
			seq++
		}
		now = r.Poll(now.Add(time.Millisecond), func([]byte) {})
	}
	ann(nimg, false, 0)
	for c := range nimg {
		send(c)
	}
	if held := r.Stats().Partials; held < 2*DefaultWindow+4 {
		t.Fatalf("setup: %d chunks held, want the window (%d) full", held, 2*DefaultWindow+4)
	}
	ann(nimg+lead, true, lead)
	for c := nimg; c < nimg+lead; c++ {
		send(c)
	}
	if !leadIn {
		t.Fatalf("the lead chunks were dropped by a window full of chunks waiting for them (drops %v)", r.Stats().Drops)
	}
	for c := range nimg {
		send(c) // chunks the full window had dropped come again
	}
	for range 20 {
		now = r.Poll(now.Add(10*time.Millisecond), func([]byte) {})
	}
	if !r.Complete() {
		t.Fatalf("not complete: %d of %d chunks", r.Stats().ChunksDone, nimg+lead)
	}
}
