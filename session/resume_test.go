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

// TestResumeRestartedReceiver stops a receiver half way (its context ends: it
// sends nothing more, as if killed) and starts it again on the same target over
// real multicast: it must find what it wrote by hashing the target, fetch only
// the rest, be the same receiver to the sender (which must end without a lost
// receiver), and end byte-identical. A second receiver takes the whole image.
func TestResumeRestartedReceiver(t *testing.T) { resumeRestarted(t, nil, nil, 19120) }

// TestResumeRestartedEncrypted: an encrypted image's block map is keyed with the
// image key (image.BlockMap.Keyed); a receiver with the key resumes all the same.
func TestResumeRestartedEncrypted(t *testing.T) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(7 * i)
	}
	k, err := image.NewKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	resumeRestarted(t, nil, k, 19124)
}

// TestResumeRestartedKeyedReceiver: the same with --key, whose receivers take a fresh
// node ID every run; the restart's alias (alias.go) makes it the same receiver to the
// sender all the same (mcsend exit 0, not 5).
func TestResumeRestartedKeyedReceiver(t *testing.T) {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(3 * i)
	}
	resumeRestarted(t, k, nil, 19122)
}

func resumeRestarted(t *testing.T, key []byte, enc *image.Key, port int) {
	nw := testnet.New(t, 3, testnet.Options{})
	data := diskBytes(40<<20, 5)
	img := makeImageCfg(t, data, image.CreateConfig{ChunkSize: 256 << 10, Encrypt: enc})
	bm := img.BlockMap().WithKey(enc)
	if bm == nil {
		t.Fatal("image without a block map")
	}
	src, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.9"), Port: port}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	full, resumed := filepath.Join(dir, "full"), filepath.Join(dir, "resumed")
	n := img.NumChunks()

	var wg sync.WaitGroup
	var fullRes, firstRes, againRes session.ReceiveResult
	var fullErr, firstErr, againErr error
	recv := func(h *testnet.Host, path string, rcfg session.ReceiveConfig) (session.ReceiveResult, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return session.ReceiveResult{}, err
		}
		defer f.Close()
		rcfg.Transport = openUDP(t, h, transport.RoleReceiver, udp)
		rcfg.Receiver.Key = key
		rcfg.Install.Grow, rcfg.Install.Decrypt = true, enc
		rcfg.StartTimeout = 20 * time.Second
		return session.ReceiveImage(ctx, f, rcfg)
	}
	fullDone := make(chan struct{})
	var atStop []byte
	wg.Go(func() { defer close(fullDone); fullRes, fullErr = recv(nw.Hosts[1], full, session.ReceiveConfig{}) })
	wg.Go(func() {
		kctx, kill := context.WithCancel(ctx)
		defer kill()
		f, err := os.OpenFile(resumed, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			firstErr = err
			return
		}
		firstRes, firstErr = session.ReceiveImage(kctx, f, session.ReceiveConfig{
			Transport: openUDP(t, nw.Hosts[2], transport.RoleReceiver, udp), Install: image.InstallConfig{Grow: true, Decrypt: enc},
			StartTimeout: 20 * time.Second, Receiver: mcast.ReceiverConfig{Key: key},
			Progress: func(p session.ReceiveProgress) {
				if p.Stats.ChunksDone >= n/2 {
					kill()
				}
			}})
		f.Close()
		atStop, _ = os.ReadFile(resumed)
		// Started again once the other receiver is done (see internal/e2e
		// TestResumeAfterKill on late joiners).
		<-fullDone
		againRes, againErr = recv(nw.Hosts[2], resumed, session.ReceiveConfig{})
	})
	sres, err := session.Send(ctx, src, session.SendConfig{
		Transport:    openUDP(t, nw.Hosts[0], transport.RoleSender, udp),
		Sender:       mcast.SenderConfig{SessionID: img.Header().ID, MaxRate: 25_000_000, FixedRate: true, Key: key},
		MinReceivers: 2, StartTimeout: 20 * time.Second, ReceiverTimeout: 20 * time.Second})
	wg.Wait()
	if err != nil {
		t.Fatalf("send: %v (lost %d)", err, sres.Lost)
	}
	if fullErr != nil || againErr != nil {
		t.Fatalf("receivers: %v, %v", fullErr, againErr)
	}
	if firstErr == nil {
		t.Fatal("the first run of the stopped receiver succeeded: it was not stopped half way")
	}
	for _, p := range []string{full, resumed} {
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got[:len(data)], data) {
			t.Fatalf("%s differs from the image", p)
		}
	}
	rv := againRes.Resume
	lackedEnc, lacked := lackingKey(t, img, atStop, enc)
	bs := int64(againRes.Stats.Bytes)
	t.Logf("first run: %d of %d chunks; restart: hashed %v (%d/%d blocks in %v), held %d chunks (%d used bytes); received %d chunk bytes for ~%d lacked used bytes (~%d encoded); wrote %d bytes, skipped %d",
		firstRes.Stats.ChunksDone, n, rv.Hashed, rv.Hash.Matched, rv.Hash.Blocks, rv.HashElapsed.Round(time.Millisecond), rv.HeldChunks, rv.HeldBytes,
		bs, lacked, lackedEnc, againRes.Install.WriteBytes, againRes.Install.SkipBytes)
	t.Logf("sender: %d receivers, lost %d, %d data blocks; the full receiver wrote %d bytes", len(sres.Receivers), sres.Lost, sres.Stats.DataBlocks, fullRes.Install.DataBytes)
	if !rv.Hashed || rv.HeldChunks < n/3 {
		t.Fatalf("the restart found %d held chunks of %d", rv.HeldChunks, n)
	}
	// What the restart received beyond what it lacked: at most 10 % of the image, plus
	// the window it may ask for while it hashes (8 chunks: this image has only ~60;
	// internal/e2e TestResumeAfterKill holds the 10 % alone).
	window := int64(mcast.DefaultWindow) * int64(img.Header().ChunkSize)
	if over := bs - lackedEnc; float64(over) > 0.10*float64(img.Header().StoredBytes)+float64(window) {
		t.Errorf("restart received %d chunk bytes beyond the ~%d it lacked (image %d)", over, lackedEnc, img.Header().StoredBytes)
	}
	if w := againRes.Install.WriteBytes; float64(w) > 1.1*float64(lacked)+float64(bm.BlockSize()) {
		t.Errorf("restart wrote %d bytes for %d lacked", w, lacked)
	}
	if len(sres.Receivers) != 2 {
		t.Errorf("the sender saw %d receivers, want 2 (the restart is the same receiver)", len(sres.Receivers))
	}
}

// lacking is what a target holding got lacks of img: in encoded bytes (each chunk's
// length times the share of its used bytes in blocks got does not hold) and in used
// bytes.
func lacking(t *testing.T, img *image.Reader, got []byte) (enc, used int64) {
	t.Helper()
	return lackingKey(t, img, got, nil)
}

// lackingKey is lacking for an encrypted image (its keyed map needs the key).
func lackingKey(t *testing.T, img *image.Reader, got []byte, k *image.Key) (enc, used int64) {
	t.Helper()
	bm := img.BlockMap().WithKey(k)
	match, _, err := image.HashTarget(context.Background(), bytes.NewReader(got), bm, 0)
	if err != nil {
		t.Fatal(err)
	}
	bs := int64(bm.BlockSize())
	held := map[int64]bool{}
	for i, ok := range match {
		if ok {
			held[bm.Block(i)] = true
		}
	}
	for c := range img.NumChunks() {
		_, n := img.ChunkOffset(c)
		var all, lack int64
		for _, rg := range bm.ChunkRanges(nil, c) {
			for off := rg.Off; off < rg.End(); {
				end := min(rg.End(), (off/bs+1)*bs)
				all += end - off
				if !held[off/bs] {
					lack += end - off
				}
				off = end
			}
		}
		if all > 0 {
			enc += int64(float64(n) * float64(lack) / float64(all))
		}
		used += lack
	}
	return enc, used
}
