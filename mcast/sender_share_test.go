package mcast

import (
	"testing"

	"github.com/discuscast/discus/mcast/wire"
)

// TestWholeChunksNotStarvedByRepairs: an endless stream of repair needs (a forged flood
// from ever new node IDs, without a key) delays a whole chunk a receiver needs by at
// most about one chunk of repair blocks; it does not starve it.
func TestWholeChunksNotStarvedByRepairs(t *testing.T) {
	s, now := newTestSender(t, 40)
	s.SetPaused(false)
	s.Handle(requestPkt(1, wire.Need{Chunk: 39}), now) // a real receiver: the whole chunk 39
	node := uint64(100)
	flood := func() {
		for c := uint32(0); c < 16; c++ {
			node++
			s.Handle(requestPkt(node, wire.Need{Chunk: c, Missing: 90}), now)
		}
	}
	flood()
	before := 0
	for range 20000 {
		done := false
		now = s.Poll(now, func(p []byte) {
			h, body, err := wire.ParseHeader(p)
			if err != nil || h.Type != wire.TypeData {
				return
			}
			d, _ := wire.ParseData(h, body)
			if d.Chunk == 39 {
				done = true
			}
			if !done {
				before++
			}
		})
		if done {
			break
		}
		if s.repairs.len() < 4 {
			flood() // the flood never lets the repair lane run dry
		}
	}
	k := s.params.Blocks(s.cfg.MaxChunk)
	t.Logf("ASSERT the whole chunk started after %d repair blocks (limit 2·K = %d)", before, 2*k)
	if before > 2*k {
		t.Fatalf("the whole chunk waited behind %d repair blocks", before)
	}
}
