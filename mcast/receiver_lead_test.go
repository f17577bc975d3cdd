package mcast

import (
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// TestLeadFirst: a receiver joining a session whose announce has lead chunks (an
// image's manifest) asks for them before anything else, so a late joiner of a large
// image gets what it needs to check chunks first.
func TestLeadFirst(t *testing.T) {
	now := time.Unix(0, 0)
	for _, lead := range []uint32{1, 5} {
		r := NewReceiver(ReceiverConfig{}, now)
		r.Handle(wire.AppendAnnounce(nil, testHeader, &wire.Announce{Final: true, Rate: 1e6, Chunks: 100_000, MaxChunk: 4096,
			BlockSize: 128, Lead: lead}), now)
		var first []wire.Need
		for i := 0; i < 50 && first == nil; i++ {
			now = r.Poll(now, func(p []byte) {
				h, body, err := wire.ParseHeader(p)
				if err != nil || h.Type != wire.TypeRequest || first != nil {
					return
				}
				q, err := wire.ParseRequest(h, body, nil)
				if err != nil {
					t.Fatal(err)
				}
				first = append([]wire.Need(nil), q.Needs...)
			})
		}
		if len(first) == 0 {
			t.Fatalf("lead %d: no request", lead)
		}
		// The window starts at the first lead chunk (each chunk's first ask has a random
		// backoff, so the lead chunks come among the window's first asks, in any order):
		// nothing outside that window is asked for first.
		for _, n := range first {
			if off := (n.Chunk + lead) % 100_000; off >= DefaultWindow {
				t.Fatalf("lead %d: the first request asks for chunk %d, outside the window that starts at %d (needs %v)",
					lead, n.Chunk, 100_000-lead, first)
			}
		}
	}
}
