package session_test

import (
	"bytes"
	"context"
	"math/rand/v2"
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

// diskBytes makes n bytes that look like a used disk: compressible text,
// random runs and zero stretches.
func diskBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for off := 0; off < n; off += 64 << 10 {
		end := min(off+64<<10, n)
		switch rng.IntN(3) {
		case 0:
			for i := off; i < end; i++ {
				b[i] = "discus multicast imaging "[i%25]
			}
		case 1:
			for i := off; i < end; i++ {
				b[i] = byte(rng.Uint32())
			}
		}
	}
	return b
}

// makeImage writes an image file of data and opens it.
func makeImage(t *testing.T, data []byte) *image.Reader {
	t.Helper()
	return makeImageCfg(t, data, image.CreateConfig{})
}

// makeImageCfg is makeImage with a creation config.
func makeImageCfg(t *testing.T, data []byte, cfg image.CreateConfig) *image.Reader {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.dsc")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := image.Create(context.Background(), image.NewSource(bytes.NewReader(data), int64(len(data))), f, cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := image.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func openUDP(t *testing.T, h *testnet.Host, role transport.Role, cfg transport.UDPConfig) transport.Transport {
	t.Helper()
	var tr *transport.UDP
	if err := h.Do(func() (err error) { tr, err = transport.ListenUDP(role, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestSendReceiveBridge sends an image over real UDP multicast between
// namespaces: one sender, three receivers, one of them losing 2 % of its
// packets; every target must end byte-identical.
func TestSendReceiveBridge(t *testing.T) {
	nw := testnet.New(t, 4, testnet.Options{})
	nw.Hosts[3].DropInput(t, 0.02)
	data := diskBytes(24<<20, 1)
	img := makeImage(t, data)
	src, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.9"), Port: 19100}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	targets := make([]string, 3)
	errs := make([]error, 3)
	results := make([]session.ReceiveResult, 3)
	for i := range 3 {
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
				Transport: tr, Install: image.InstallConfig{Grow: true}, StartTimeout: 20 * time.Second})
		})
	}
	sres, err := session.Send(ctx, src, session.SendConfig{
		Transport:    openUDP(t, nw.Hosts[0], transport.RoleSender, udp),
		Sender:       mcast.SenderConfig{SessionID: img.Header().ID},
		MinReceivers: 3, StartTimeout: 20 * time.Second,
		Progress: func(p session.SendProgress) {
			if os.Getenv("DISCUS_TRACE") != "" {
				t.Logf("%v started=%v blocks=%d/%d rate=%.1fMB/s queued=%d recv=%d", p.Elapsed.Round(time.Millisecond), p.Started, p.Stats.DataBlocks, p.Stats.ParityBlocks, float64(p.Stats.Rate)/1e6, p.Stats.Queued, len(p.Receivers))
			}
		}})
	wg.Wait()
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	st := sres.Stats
	t.Logf("sender: %.2fs, %d data + %d parity blocks, %d packets, rate %.1f MB/s, %d requests",
		sres.Elapsed.Seconds(), st.DataBlocks, st.ParityBlocks, st.Packets, float64(st.Rate)/1e6, st.Requests)
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("receiver %d: %v", i, errs[i])
		}
		got, err := os.ReadFile(targets[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("receiver %d: target differs from the source", i)
		}
		rs := results[i].Stats
		t.Logf("receiver %d: %.2fs, %d blocks, %d lost, %d requests, %d suppressed, acked %v",
			i, results[i].Elapsed.Seconds(), rs.Blocks, rs.Lost, rs.Requests, rs.NeedsSuppressed, results[i].Acked)
	}
}
