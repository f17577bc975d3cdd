package mcast

import (
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// TestKeylessFollowNotOnOnePacket: a keyless receiver does not follow another sender
// node on one packet (a forgery would reset every receiver's timers), but does after a
// run of rivalRun packets with nothing from its sender, or after its sender's silence.
func TestKeylessFollowNotOnOnePacket(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewReceiver(ReceiverConfig{}, now)
	ann := &wire.Announce{Final: true, Rate: 1e6, Chunks: 4, MaxChunk: 4096, BlockSize: 128}
	r.Handle(wire.AppendAnnounce(nil, testHeader, ann), now)
	if !r.joined || r.info.Sender != testHeader.Node {
		t.Fatal("did not join")
	}
	other := testHeader
	other.Node = 0xbad
	forged := wire.AppendAnnounce(nil, other, ann)
	for i := 0; i < rivalRun-1; i++ {
		r.Handle(forged, now)
	}
	r.Handle(wire.AppendAnnounce(nil, testHeader, ann), now) // the real sender: the run starts over
	for i := 0; i < rivalRun-1; i++ {
		r.Handle(forged, now)
	}
	if r.info.Sender != testHeader.Node {
		t.Fatalf("followed node %x after interleaved forgeries", r.info.Sender)
	}
	if d := r.Stats().Drops[wire.DropConflict]; d != 2*(rivalRun-1) {
		t.Fatalf("%d conflicts counted, want %d", d, 2*(rivalRun-1))
	}
	r.Handle(forged, now) // the rivalRun-th in a row: a replacement sender
	if r.info.Sender != other.Node {
		t.Fatal("did not follow a persistent replacement sender")
	}
	third := testHeader
	third.Node = 0xc0de
	r.Handle(wire.AppendAnnounce(nil, third, ann), now.Add(time.Duration(switchSilence)))
	if r.info.Sender != third.Node {
		t.Fatal("did not follow a new sender after its sender's silence")
	}
}
