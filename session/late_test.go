package session_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
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
	targets := make([]string, 3)
	errs := make([]error, 3)
	results := make([]session.ReceiveResult, 3)
	receive := func(i int) {
		targets[i] = filepath.Join(t.TempDir(), "target")
		tr := openUDP(t, nw.Hosts[i+1], transport.RoleReceiver, udp)
		wg.Go(func() {
			f, err := os.Create(targets[i])
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			results[i], errs[i] = session.ReceiveImage(ctx, f, session.ReceiveConfig{
				Transport: tr, Install: image.InstallConfig{Grow: true}, StartTimeout: 30 * time.Second, ReceiveTimeout: 20 * time.Second})
		})
	}
	receive(0)
	receive(1)
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
	receive(2)
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil {
			st := results[i].Stats
			t.Errorf("receiver %d: %v (chunks %d/%d, partials %d, out %d, deferred %d, drops %v, resume %+v)", i, errs[i],
				st.ChunksDone, st.ChunksTotal, st.Partials, st.Out, st.Deferred, st.Drops, results[i].Resume)
		}
	}
	if serr != nil || t.Failed() {
		t.Fatalf("send: %v (%+v)", serr, sres.Stats)
	}
	for i := range 3 {
		got, err := os.ReadFile(targets[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("receiver %d: target differs from the source", i)
		}
	}
}
