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

// TestSendCreating sends a disk imaged while it is sent (CreatingSource, what
// `mcsend DISK` does) to two receivers over real multicast: both must end with the
// disk's bytes. The manifest exists only once the stream ended, so receivers that
// joined early hold chunks that wait for it (bench/clonezilla.sh caught every
// receiver stranded that way, exit 5).
func TestSendCreating(t *testing.T) {
	nw := testnet.New(t, 3, testnet.Options{})
	data := diskBytes(160<<20, 7)
	spool, err := os.Create(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src, err := session.NewCreatingSource(ctx, image.NewSource(bytes.NewReader(data), int64(len(data))), image.CreateConfig{}, spool)
	if err != nil {
		t.Fatal(err)
	}
	udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.9"), Port: 19110}
	var wg sync.WaitGroup
	rx := []*fileReceiver{receiveFile(t, ctx, &wg, nw.Hosts[1], udp, 20*time.Second), receiveFile(t, ctx, &wg, nw.Hosts[2], udp, 20*time.Second)}
	// Both receivers listen before the stream's first announce.
	time.Sleep(200 * time.Millisecond)
	_, err = session.Send(ctx, src, session.SendConfig{
		Transport:    openUDP(t, nw.Hosts[0], transport.RoleSender, udp),
		Sender:       mcast.SenderConfig{SessionID: src.Header().ID},
		MinReceivers: 2, StartTimeout: 20 * time.Second, ReceiverTimeout: 20 * time.Second})
	wg.Wait()
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	for i, fr := range rx {
		if fr.err != nil {
			t.Fatalf("receiver %d: %v", i, fr.err)
		}
		got, err := os.ReadFile(fr.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("receiver %d: target differs from the disk", i)
		}
	}
}
