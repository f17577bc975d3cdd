package mcast

import (
	"testing"
	"time"
)

// TestLeadFirst: a receiver joining a session whose announce has lead chunks (an
// image's manifest) asks for them before anything else, so a late joiner of a large
// image gets what it needs to check chunks first.
func TestLeadFirst(t *testing.T) {
	now := time.Unix(0, 0)
	for _, lead := range []uint32{1, 5} {
		r := NewReceiver(ReceiverConfig{}, now)
		r.Handle(appendAnnounce(nil, testHeader, &announce{final: true, rate: 1e6, chunks: 100_000, maxChunk: 4096,
			blockSize: 128, lead: lead}), now)
		var first []need
		for i := 0; i < 50 && first == nil; i++ {
			now = r.Poll(now, func(p []byte) {
				h, body, err := parseHeader(p)
				if err != nil || h.typ != typeRequest || first != nil {
					return
				}
				q, err := parseRequest(h, body, nil)
				if err != nil {
					t.Fatal(err)
				}
				first = append([]need(nil), q.needs...)
			})
		}
		if len(first) == 0 {
			t.Fatalf("lead %d: no request", lead)
		}
		if first[0].chunk != 100_000-lead {
			t.Fatalf("lead %d: the first request asks for chunk %d first, want %d (needs %v)", lead, first[0].chunk, 100_000-lead, first)
		}
	}
}
