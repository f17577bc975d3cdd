package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
	"golang.org/x/crypto/ssh"
)

// memPort is one end of an in-memory "multicast group" of two: what one end
// sends, the other receives, with no loss. It lets a test run a real
// session without any network.
type memPort struct {
	in       chan *transport.Batch
	peer     *memPort
	mu       sync.Mutex
	closed   bool
	closeErr error
}

func memPair() (*memPort, *memPort) {
	a := &memPort{in: make(chan *transport.Batch, 4096)}
	b := &memPort{in: make(chan *transport.Batch, 4096)}
	a.peer, b.peer = b, a
	return a, b
}

func (p *memPort) Incoming() <-chan *transport.Batch { return p.in }
func (p *memPort) Release(*transport.Batch)          {}
func (p *memPort) Err() error                        { return nil }

func (p *memPort) Send(pkts [][]byte) error {
	b := &transport.Batch{}
	for _, x := range pkts {
		b.Pkts = append(b.Pkts, bytes.Clone(x))
	}
	q := p.peer
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil // the other end left: the datagrams are lost, as on a network
	}
	select {
	case q.in <- b:
	default: // a full socket buffer drops
	}
	return nil
}

func (p *memPort) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.in)
	}
	return nil
}

// A whole session: session.Send serves an image, session.ReceiveImage keeps it
// through the keeper's sink, and the kept file is the same image.
func TestKeepSession(t *testing.T) {
	srcPath, disk := testImage(t)
	r, err := image.OpenFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, err := session.NewImageSource(r)
	if err != nil {
		t.Fatal(err)
	}
	keepPath := filepath.Join(t.TempDir(), "kept.dsc")
	k, err := newImageKeeper(keepPath)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	sendEnd, recvEnd := memPair()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		_, err := session.Send(ctx, src, session.SendConfig{
			Sender:       mcast.SenderConfig{SessionID: r.Header().ID},
			Transport:    sendEnd,
			MinReceivers: 1,
			Linger:       100 * time.Millisecond,
		})
		sendErr <- err
	}()
	res, err := session.ReceiveImage(ctx, nil, session.ReceiveConfig{Transport: recvEnd, Sink: k.sink})
	if err == nil {
		err = k.finish()
	}
	if err != nil {
		t.Fatalf("receiving: %v", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("sending: %v", err)
	}
	if res.Install.Written != r.NumChunks() {
		t.Fatalf("install stats %+v", res.Install)
	}
	if got := installed(t, keepPath); !bytes.Equal(got, disk) {
		t.Fatal("the kept image installs different bytes")
	}
}

// TestKeepSignedKeyedSession: a signed image kept over a keyed session with --trust
// stays signed, so it can be served and verified again.
func TestKeepSignedKeyedSession(t *testing.T) {
	srcPath, disk := testImage(t)
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(t.TempDir(), "signed.dsc")
	if _, err := image.SignFile(srcPath, signed, priv); err != nil {
		t.Fatal(err)
	}
	sp, _ := ssh.NewPublicKey(pub)
	trust, err := image.ParseTrustedKeys(ssh.MarshalAuthorizedKey(sp))
	if err != nil {
		t.Fatal(err)
	}
	r, err := image.OpenFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src, err := session.NewImageSource(r)
	if err != nil {
		t.Fatal(err)
	}
	keepPath := filepath.Join(t.TempDir(), "kept.dsc")
	k, err := newImageKeeper(keepPath)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	key := bytes.Repeat([]byte{0x5a}, 32)
	sendEnd, recvEnd := memPair()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		_, err := session.Send(ctx, src, session.SendConfig{
			Sender:    mcast.SenderConfig{SessionID: r.Header().ID, Key: key},
			Transport: sendEnd, MinReceivers: 1, Linger: 100 * time.Millisecond,
		})
		sendErr <- err
	}()
	_, err = session.ReceiveImage(ctx, nil, session.ReceiveConfig{Transport: recvEnd, Sink: k.sink, Trust: trust,
		Receiver: mcast.ReceiverConfig{Key: key}})
	if err == nil {
		err = k.finish()
	}
	if err != nil {
		t.Fatalf("receiving: %v", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("sending: %v", err)
	}
	kept, err := image.OpenFile(keepPath)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if err := trust.Check(kept.Header(), kept.Signature()); err != nil {
		t.Fatalf("the kept image is not signed by the trusted key: %v", err)
	}
	if got := installed(t, keepPath); !bytes.Equal(got, disk) {
		t.Fatal("the kept image installs different bytes")
	}
}
