package session_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/testnet"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

// TestLateJoinerResume: a receiver that joins while the image is being sent to
// others hears their chunks before its manifest and block map; it hashes its target
// (resume) only once those are in. Its delivery workers must stay free for them: when
// image chunks parked the workers until the hashing, every late joiner stranded
// (window drops, exit 5; 3 of 3 with mcsend/mcrecv on loopback).
func TestLateJoinerResume(t *testing.T) {
	nw := testnet.New(t, 4, testnet.Options{})
	data := diskBytes(96<<20, 11)
	img := makeImage(t, data)
	src, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.9"), Port: 19120}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	rx := []*fileReceiver{receiveFile(t, ctx, &wg, nw.Hosts[1], udp, 30*time.Second), receiveFile(t, ctx, &wg, nw.Hosts[2], udp, 30*time.Second)}
	var serr error
	var sres session.SendResult
	wg.Go(func() {
		sres, serr = session.Send(ctx, src, session.SendConfig{
			Transport: openUDP(t, nw.Hosts[0], transport.RoleSender, udp),
			// 10 MB/s: the early receivers take several seconds, the late one joins mid-way.
			Sender:       mcast.SenderConfig{SessionID: img.Header().ID, MaxRate: 10_000_000},
			MinReceivers: 2, StartTimeout: 30 * time.Second, ReceiverTimeout: 20 * time.Second})
	})
	time.Sleep(1500 * time.Millisecond)
	rx = append(rx, receiveFile(t, ctx, &wg, nw.Hosts[3], udp, 30*time.Second))
	wg.Wait()
	for i, fr := range rx {
		if fr.err != nil {
			st := fr.res.Stats
			t.Errorf("receiver %d: %v (chunks %d/%d, partials %d, out %d, deferred %d, drops %v, resume %+v)", i, fr.err,
				st.ChunksDone, st.ChunksTotal, st.Partials, st.Out, st.Deferred, st.Drops, fr.res.Resume)
		}
	}
	if serr != nil || t.Failed() {
		t.Fatalf("send: %v (%+v)", serr, sres.Stats)
	}
	for i, fr := range rx {
		got, err := os.ReadFile(fr.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("receiver %d: target differs from the source", i)
		}
	}
}
