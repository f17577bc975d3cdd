package mcast

import (
	"testing"
	"time"
)

// TestKeylessFollowNotOnOnePacket: a keyless receiver does not follow another sender
// node on one packet (a forgery would reset every receiver's timers), but does after a
// run of rivalRun packets with nothing from its sender, or after its sender's silence.
func TestKeylessFollowNotOnOnePacket(t *testing.T) {
	now := time.Unix(0, 0)
	r := NewReceiver(ReceiverConfig{}, now)
	ann := &announce{final: true, rate: 1e6, chunks: 4, maxChunk: 4096, blockSize: 128}
	r.Handle(appendAnnounce(nil, testHeader, ann), now)
	if !r.joined || r.info.Sender != testHeader.node {
		t.Fatal("did not join")
	}
	other := testHeader
	other.node = 0xbad
	forged := appendAnnounce(nil, other, ann)
	for i := 0; i < rivalRun-1; i++ {
		r.Handle(forged, now)
	}
	r.Handle(appendAnnounce(nil, testHeader, ann), now) // the real sender: the run starts over
	for i := 0; i < rivalRun-1; i++ {
		r.Handle(forged, now)
	}
	if r.info.Sender != testHeader.node {
		t.Fatalf("followed node %x after interleaved forgeries", r.info.Sender)
	}
	if d := r.Stats().Drops[DropConflict]; d != 2*(rivalRun-1) {
		t.Fatalf("%d conflicts counted, want %d", d, 2*(rivalRun-1))
	}
	r.Handle(forged, now) // the rivalRun-th in a row: a replacement sender
	if r.info.Sender != other.node {
		t.Fatal("did not follow a persistent replacement sender")
	}
	third := testHeader
	third.node = 0xc0de
	r.Handle(appendAnnounce(nil, third, ann), now.Add(time.Duration(switchSilence)))
	if r.info.Sender != third.node {
		t.Fatal("did not follow a new sender after its sender's silence")
	}
}
