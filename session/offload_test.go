package session_test

import (
	"bytes"
	"context"
	"fmt"
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

// TestSessionOffloads sends an image between namespaces over UDP GSO and GRO, and
// again with both switched off: both targets equal the source byte for byte, and the
// counters show which path carried the data.
func TestSessionOffloads(t *testing.T) {
	data := diskBytes(12<<20, 7)
	img := makeImage(t, data)
	for i, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("off=%v", off), func(t *testing.T) {
			nw := testnet.New(t, 3, testnet.Options{})
			src, err := session.NewImageSource(img)
			if err != nil {
				t.Fatal(err)
			}
			udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.11"),
				Port: 19200 + 10*i, NoGSO: off, NoGRO: off}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			targets := make([]string, 2)
			errs := make([]error, 2)
			results := make([]session.ReceiveResult, 2)
			for r := range 2 {
				targets[r] = filepath.Join(t.TempDir(), "target")
				tr := openUDP(t, nw.Hosts[r+1], transport.RoleReceiver, udp)
				wg.Go(func() {
					defer tr.Close()
					f, err := os.Create(targets[r])
					if err != nil {
						errs[r] = err
						return
					}
					defer f.Close()
					results[r], errs[r] = session.ReceiveImage(ctx, f, session.ReceiveConfig{
						Transport: tr, Install: image.InstallConfig{Grow: true}, StartTimeout: 20 * time.Second})
				})
			}
			str := openUDP(t, nw.Hosts[0], transport.RoleSender, udp)
			defer str.Close()
			sres, err := session.Send(ctx, src, session.SendConfig{Transport: str,
				Sender: mcast.SenderConfig{SessionID: img.Header().ID}, MinReceivers: 2, StartTimeout: 20 * time.Second})
			wg.Wait()
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			st := sres.Transport
			t.Logf("sender transport: %+v", st)
			if off && st.GSOBuffers != 0 || !off && st.GSOBuffers == 0 && st.GSOFallbacks == 0 {
				t.Errorf("offloads off=%v: %d GSO buffers, %d fallbacks", off, st.GSOBuffers, st.GSOFallbacks)
			}
			for r := range 2 {
				if errs[r] != nil {
					t.Fatalf("receiver %d: %v", r, errs[r])
				}
				got, err := os.ReadFile(targets[r])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("receiver %d: target differs from the source", r)
				}
				rt := results[r].Transport
				t.Logf("receiver %d transport: %+v", r, rt)
				if off && rt.GROReads != 0 || !off && rt.GROReads == 0 && rt.GROFallbacks == 0 {
					t.Errorf("receiver %d, offloads off=%v: %d merged reads, %d fallbacks", r, off, rt.GROReads, rt.GROFallbacks)
				}
			}
		})
	}
}
