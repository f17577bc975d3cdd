package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

// chanTransport hands the test's datagrams to the owner loop and discards sends.
type chanTransport struct{ in chan *transport.Batch }

func (c chanTransport) Incoming() <-chan *transport.Batch { return c.in }
func (chanTransport) Release(*transport.Batch)            {}
func (chanTransport) Send([][]byte) error                 { return nil }
func (chanTransport) Err() error                          { return nil }
func (c chanTransport) Close() error                      { return nil }

// TestReceiveSenderSilentBeforeData: a sender heard once (its announce) that dies
// before sending any data, as mcsend does when its first chunk is corrupt, makes the
// receiver give up with ErrSenderLost after ReceiveTimeout instead of waiting for ever.
func TestReceiveSenderSilentBeforeData(t *testing.T) {
	img := makeImage(t, diskBytes(1<<20, 3))
	src, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := mcast.NewSender(mcast.SenderConfig{SessionID: img.Header().ID, Paused: true}, src, now)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	w, err := mcast.OnWire(s) // with its trailer, as on the wire
	if err != nil {
		t.Fatal(err)
	}
	w.Poll(now, func(p []byte) { pkts = append(pkts, append([]byte(nil), p...)) })
	tr := chanTransport{in: make(chan *transport.Batch, 1)}
	tr.in <- &transport.Batch{Pkts: pkts} // the announce, then silence
	target, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	t0 := time.Now()
	_, err = session.ReceiveImage(context.Background(), target, session.ReceiveConfig{Transport: tr, Install: image.InstallConfig{Grow: true},
		StartTimeout: 5 * time.Second, ReceiveTimeout: 300 * time.Millisecond})
	t.Logf("ASSERT ReceiveImage returned %v after %v", err, time.Since(t0).Round(time.Millisecond))
	if !errors.Is(err, session.ErrSenderLost) {
		t.Fatalf("got %v, want ErrSenderLost", err)
	}
}
