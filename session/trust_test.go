package session_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
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
	"github.com/discuscast/discus/mcast/wire"
	"github.com/discuscast/discus/session"
	"golang.org/x/crypto/ssh"
)

// signedImage writes data as an image signed by a fresh ed25519 key and returns it
// with the authorized_keys line that trusts the key.
func signedImage(t *testing.T, data []byte) (*image.Reader, *image.TrustedKeys) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signed.dsc")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := image.Create(context.Background(), image.NewSource(bytes.NewReader(data), int64(len(data))), f,
		image.CreateConfig{Sign: priv}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := image.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := image.ParseTrustedKeys(ssh.MarshalAuthorizedKey(sp))
	if err != nil {
		t.Fatal(err)
	}
	return r, trust
}

type trustRun struct {
	sendKey   []byte
	recvKeys  [][]byte
	trust     *image.TrustedKeys
	img       *image.Reader
	minRecv   int
	startWait time.Duration
}

type trustResult struct {
	send    session.SendResult
	sendErr error
	recv    []session.ReceiveResult
	errs    []error
	targets []string
}

// runTrust runs one keyed session on a bridge: a sender and one receiver per key.
func runTrust(t *testing.T, c trustRun) trustResult {
	t.Helper()
	n := len(c.recvKeys)
	nw := testnet.New(t, n+1, testnet.Options{})
	src, err := session.NewImageSource(c.img)
	if err != nil {
		t.Fatal(err)
	}
	udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.10"), Port: 19200}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := trustResult{recv: make([]session.ReceiveResult, n), errs: make([]error, n), targets: make([]string, n)}
	var wg sync.WaitGroup
	for i := range n {
		res.targets[i] = filepath.Join(t.TempDir(), "target")
		// An old disk: if anything is written where it must not be, it shows.
		if err := os.WriteFile(res.targets[i], bytes.Repeat([]byte("old disk "), 1<<16), 0o644); err != nil {
			t.Fatal(err)
		}
		tr := openUDP(t, nw.Hosts[i+1], transport.RoleReceiver, udp)
		wg.Go(func() {
			f, err := os.OpenFile(res.targets[i], os.O_RDWR, 0)
			if err != nil {
				res.errs[i] = err
				return
			}
			defer f.Close()
			res.recv[i], res.errs[i] = session.ReceiveImage(ctx, f, session.ReceiveConfig{
				Transport: tr, Receiver: mcast.ReceiverConfig{Key: c.recvKeys[i]}, Trust: c.trust,
				Install: image.InstallConfig{Grow: true, Gaps: image.GapZero}, StartTimeout: c.startWait})
		})
	}
	res.send, res.sendErr = session.Send(ctx, src, session.SendConfig{
		Transport:    openUDP(t, nw.Hosts[0], transport.RoleSender, udp),
		Sender:       mcast.SenderConfig{SessionID: c.img.Header().ID, Key: c.sendKey},
		MinReceivers: c.minRecv, StartTimeout: c.startWait})
	wg.Wait()
	return res
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// TestKeyedSignedSession: a signed image to two receivers over real multicast with a
// shared key and --trust: both targets end byte-identical.
func TestKeyedSignedSession(t *testing.T) {
	data := diskBytes(8<<20, 5)
	img, trust := signedImage(t, data)
	res := runTrust(t, trustRun{sendKey: key(1), recvKeys: [][]byte{key(1), key(1)}, trust: trust, img: img,
		minRecv: 2, startWait: 20 * time.Second})
	if res.sendErr != nil {
		t.Fatalf("send: %v", res.sendErr)
	}
	for i, err := range res.errs {
		if err != nil {
			t.Fatalf("receiver %d: %v", i, err)
		}
		got, _ := os.ReadFile(res.targets[i])
		if !bytes.Equal(got[:len(data)], data) {
			t.Fatalf("receiver %d: target differs", i)
		}
		st := res.recv[i].Stats
		t.Logf("receiver %d: %.2fs, %d blocks, %d deferred deliveries, drops %s", i, res.recv[i].Elapsed.Seconds(),
			st.Blocks, st.Deferred, st.Drops.String())
	}
	t.Logf("sender: %.2fs, %d packets, drops %s", res.send.Elapsed.Seconds(), res.send.Stats.Packets, res.send.Stats.Drops.String())
}

// TestKeyMismatch: a receiver with another key never joins (every packet fails its
// tag) and its target is untouched; the sender, whose receivers never said hello,
// gives up on its start timeout.
func TestKeyMismatch(t *testing.T) {
	data := diskBytes(2<<20, 6)
	img := makeImage(t, data)
	res := runTrust(t, trustRun{sendKey: key(1), recvKeys: [][]byte{key(2)}, img: img, minRecv: 1, startWait: 3 * time.Second})
	if !errors.Is(res.errs[0], session.ErrStartTimeout) || !errors.Is(res.sendErr, session.ErrStartTimeout) {
		t.Fatalf("receiver: %v, sender: %v; want start timeouts", res.errs[0], res.sendErr)
	}
	if d := res.recv[0].Stats.Drops; d[wire.DropAuth] == 0 {
		t.Fatalf("no packet dropped as auth: %s", d.String())
	}
	untouched(t, res.targets[0])
}

// TestTrustRefusesUnsigned: a receiver that requires a signer refuses an unsigned
// image before writing anything.
func TestTrustRefusesUnsigned(t *testing.T) {
	data := diskBytes(2<<20, 7)
	_, trust := signedImage(t, data[:1<<16])
	img := makeImage(t, data)
	res := runTrust(t, trustRun{recvKeys: [][]byte{nil}, trust: trust, img: img, minRecv: 1, startWait: 5 * time.Second})
	if !errors.Is(res.errs[0], image.ErrUnsigned) {
		t.Fatalf("receiver: %v, want ErrUnsigned", res.errs[0])
	}
	untouched(t, res.targets[0])
}

func untouched(t *testing.T, path string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte("old disk "), 1<<16)) {
		t.Fatal("the target was written")
	}
}
