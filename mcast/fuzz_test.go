package mcast

import (
	"bytes"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

func addSeeds(f *testing.F) {
	for _, p := range samplePackets() {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte("DSCS"))
}

type fuzzSource struct{}

func (fuzzSource) Meta() []byte                { return []byte("meta") }
func (fuzzSource) ChunkCount() (int, bool)     { return 4, true }
func (fuzzSource) Chunk(i int) ([]byte, error) { return bytes.Repeat([]byte{byte(i)}, 3000), nil }

// FuzzSender feeds arbitrary datagrams to a sender: never a panic, and it keeps working.
func FuzzSender(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		now := time.Unix(0, 0)
		s, err := NewSender(SenderConfig{SessionID: testHeader.Session, BlockSize: 128, MaxChunk: 4096, FixedRate: true, MaxRate: 1e6}, fuzzSource{}, now)
		if err != nil {
			t.Fatal(err)
		}
		s.Handle(p, now)
		if len(p) > wire.HeaderLen {
			q := append([]byte(nil), p...)
			copy(q[8:24], testHeader.Session[:])
			s.Handle(q, now)
		}
		for i := 0; i < 5; i++ {
			now = s.Poll(now, func([]byte) {})
		}
	})
}

// FuzzReceiver feeds arbitrary datagrams to a receiver that has joined a session.
func FuzzReceiver(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		now := time.Unix(0, 0)
		r := NewReceiver(ReceiverConfig{}, now)
		r.Handle(wire.AppendAnnounce(nil, testHeader, &wire.Announce{Rate: 1e6, Chunks: 4, MaxChunk: 4096, BlockSize: 128}), now)
		r.Handle(p, now)
		if len(p) > wire.HeaderLen {
			q := append([]byte(nil), p...)
			copy(q[8:24], testHeader.Session[:])
			r.Handle(q, now)
		}
		for i := 0; i < 5; i++ {
			now = r.Poll(now, func([]byte) {})
		}
	})
}
