package transport

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/testnet"
	"github.com/discuscast/discus/mcast/wire"
)

// TestUDPTransportBridge sends between namespaces joined by a bridge: data
// from the sender reaches every receiver, and a receiver's control packet
// reaches the sender and the other receivers.
func TestUDPTransportBridge(t *testing.T) {
	nw := testnet.New(t, 3, testnet.Options{})
	cfg := UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.7"), Port: 19000}
	open := func(h *testnet.Host, role Role) *UDP {
		var tr *UDP
		if err := h.Do(func() (err error) { tr, err = ListenUDP(role, cfg); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	snd := open(nw.Hosts[0], RoleSender)
	rcv := []*UDP{open(nw.Hosts[1], RoleReceiver), open(nw.Hosts[2], RoleReceiver)}

	const n = 500
	var pkts [][]byte
	for i := range n {
		pkts = append(pkts, fmt.Appendf(bytes.Repeat([]byte{byte(i)}, 1400), "data %d", i))
	}
	if err := snd.Send(pkts); err != nil {
		t.Fatal(err)
	}
	for i, r := range rcv {
		got := collect(t, r, n)
		for j := range n {
			if !bytes.Equal(got[j], pkts[j]) {
				t.Fatalf("receiver %d: datagram %d differs", i, j)
			}
		}
	}
	if err := rcv[0].Send([][]byte{[]byte("request")}); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*UDP{snd, rcv[1]} {
		got, from := collectFrom(t, tr, 1)
		if string(got[0]) != "request" {
			t.Fatalf("control packet: got %q", got[0])
		}
		if from[0].Addr() != nw.Hosts[1].Addr {
			t.Errorf("control packet from %v, want %v", from[0], nw.Hosts[1].Addr)
		}
	}
	st := snd.Stats()
	t.Logf("sender: %d packets in %d sendmmsg calls", st.TxPackets, st.TxCalls)
	if st.TxCalls >= n/2 {
		t.Errorf("sends were not batched: %d calls for %d packets", st.TxCalls, n)
	}
}

// TestUDPTransportLoopback runs sender and receiver in one namespace over its
// multicast-enabled loopback, as `unshare -rn` gives an unprivileged user.
func TestUDPTransportLoopback(t *testing.T) {
	h := testnet.NewLoopback(t)
	var snd, rcv *UDP
	err := h.Do(func() (err error) {
		if snd, err = ListenUDP(RoleSender, UDPConfig{Port: 19010}); err != nil {
			return err
		}
		rcv, err = ListenUDP(RoleReceiver, UDPConfig{Port: 19010})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	defer rcv.Close()
	if err := snd.Send([][]byte{[]byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, rcv, 1); string(got[0]) != "hello" {
		t.Fatalf("got %q", got[0])
	}
}

func TestListenUDPRejectsUnicast(t *testing.T) {
	_, err := ListenUDP(RoleSender, UDPConfig{Group: netip.MustParseAddr("198.18.0.1")})
	if err == nil {
		t.Fatal("a unicast group was accepted")
	}
}

func collect(t *testing.T, tr Transport, n int) [][]byte {
	t.Helper()
	got, _ := collectFrom(t, tr, n)
	return got
}

// collectFrom is collect with each datagram's source address, which every batch
// carries (Batch.Froms), merged reads included.
func collectFrom(t *testing.T, tr Transport, n int) (got [][]byte, froms []netip.AddrPort) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case b, ok := <-tr.Incoming():
			if !ok {
				t.Fatalf("transport closed: %v", tr.Err())
			}
			if len(b.Froms) != len(b.Pkts) {
				t.Fatalf("batch of %d datagrams with %d source addresses", len(b.Pkts), len(b.Froms))
			}
			for i, p := range b.Pkts {
				got = append(got, append([]byte(nil), p...))
				if !b.Froms[i].IsValid() {
					t.Fatalf("datagram %d without a source address", len(got))
				}
				froms = append(froms, b.Froms[i])
			}
			tr.Release(b)
		case <-timeout:
			t.Fatalf("got %d of %d datagrams", len(got), n)
		}
	}
	return got, froms
}

// TestUDPTransportIPv6 moves datagrams through an IPv6 group between two
// namespaces on a bridge.
func TestUDPTransportIPv6(t *testing.T) {
	nw := testnet.New(t, 2, testnet.Options{})
	cfg := UDPConfig{Group: DefaultGroup6, Port: 19020, Interface: "e0"}
	var snd, rcv *UDP
	if err := nw.Hosts[0].Do(func() (err error) { snd, err = ListenUDP(RoleSender, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if err := nw.Hosts[1].Do(func() (err error) { rcv, err = ListenUDP(RoleReceiver, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	// Retry until the link-local addresses have passed duplicate detection.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := snd.Send([][]byte{[]byte("hello6")}); err == nil {
			select {
			case b := <-rcv.Incoming():
				if string(b.Pkts[0]) != "hello6" {
					t.Fatalf("got %q", b.Pkts[0])
				}
				rcv.Release(b)
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no IPv6 datagram arrived")
		}
	}
}

// TestBlockSizeForMTU: a data packet of that block size, with IP and UDP
// headers, fits the MTU.
func TestBlockSizeForMTU(t *testing.T) {
	for _, mtu := range []int{576, 1280, 1500, 9000} {
		for _, v6 := range []bool{false, true} {
			for _, keyed := range []bool{false, true} {
				bs := BlockSizeForMTU(mtu, v6, keyed)
				ip := 20
				if v6 {
					ip = 40
				}
				f, _ := wire.NewFramer(nil, 1, true, func() uint64 { return 1 }, func(wire.DropReason) {})
				if keyed {
					f, _ = wire.NewFramer(make([]byte, 32), 1, true, func() uint64 { return 1 }, func(wire.DropReason) {})
				}
				pkt := f.Seal(wire.AppendData(nil, wire.Header{Type: wire.TypeData}, &wire.Data{Payload: make([]byte, bs)}), time.Now())
				over := wire.DataOverhead
				if keyed {
					over += wire.AuthOverhead
				}
				if len(pkt) != over+bs {
					t.Fatalf("data packet is %d bytes, overhead+block = %d", len(pkt), over+bs)
				}
				if ip+8+len(pkt) > mtu {
					t.Errorf("MTU %d (IPv6 %v, keyed %v): block %d gives a %d-byte IP packet", mtu, v6, keyed, bs, ip+8+len(pkt))
				}
				if bs%2 != 0 || bs+64 <= mtu-ip-8-over && bs >= 128 {
					t.Errorf("MTU %d: block %d is odd or wastes a 64-byte unit", mtu, bs)
				}
			}
		}
	}
	if got := BlockSizeForMTU(1500, false, false); got != 1408 {
		t.Errorf("MTU 1500: block %d, want 1408", got)
	}
}

// sendLaidOut sends pkts as Drive does: back to back in one array.
func sendLaidOut(t *testing.T, tr *UDP, pkts [][]byte) {
	t.Helper()
	var buf []byte
	for _, p := range pkts {
		buf = append(buf, p...)
	}
	out := make([][]byte, len(pkts))
	off := 0
	for i, p := range pkts {
		out[i] = buf[off : off+len(p)]
		off += len(p)
	}
	if err := tr.Send(out); err != nil {
		t.Fatal(err)
	}
}

// TestUDPOffloads: over a bridge, runs of equal-size datagrams (with a shorter one
// and control-size ones between them) leave as GSO buffers and arrive as GRO reads,
// or as plain datagrams with the offloads switched off, and every receiver gets the
// same datagrams in the same order either way.
func TestUDPOffloads(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("off=%v", off), func(t *testing.T) {
			nw := testnet.New(t, 3, testnet.Options{})
			cfg := UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.8"), Port: 19030, NoGSO: off, NoGRO: off}
			open := func(h *testnet.Host, role Role) *UDP {
				var tr *UDP
				if err := h.Do(func() (err error) { tr, err = ListenUDP(role, cfg); return err }); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tr.Close() })
				return tr
			}
			snd := open(nw.Hosts[0], RoleSender)
			rcv := []*UDP{open(nw.Hosts[1], RoleReceiver), open(nw.Hosts[2], RoleReceiver)}
			var pkts [][]byte
			for i := range 700 {
				n := 1464
				switch {
				case i%100 == 99:
					n = 80 // an announce among the data
				case i%100 == 50:
					n = 1000 // a shorter last block
				}
				pkts = append(pkts, fmt.Appendf(bytes.Repeat([]byte{byte(i)}, n-8), "%08d", i))
			}
			sendLaidOut(t, snd, pkts[:350])
			if err := snd.Send(pkts[350:]); err != nil { // not laid out: copied into GSO buffers
				t.Fatal(err)
			}
			for i, r := range rcv {
				got := collect(t, r, len(pkts))
				for j := range pkts {
					if !bytes.Equal(got[j], pkts[j]) {
						t.Fatalf("receiver %d: datagram %d differs (%d bytes, want %d)", i, j, len(got[j]), len(pkts[j]))
					}
				}
				st := r.Stats()
				t.Logf("receiver %d: %+v", i, st)
				if st.RxPackets != int64(len(pkts)) {
					t.Errorf("receiver %d: counted %d datagrams, want %d", i, st.RxPackets, len(pkts))
				}
				if off && st.GROReads != 0 {
					t.Errorf("receiver %d: %d merged reads with GRO off", i, st.GROReads)
				}
			}
			st := snd.Stats()
			t.Logf("sender: %+v", st)
			if st.TxPackets != int64(len(pkts)) {
				t.Errorf("sender counted %d datagrams, want %d", st.TxPackets, len(pkts))
			}
			switch {
			case off && st.GSOBuffers != 0:
				t.Errorf("%d GSO buffers with GSO off", st.GSOBuffers)
			case !off && st.GSOFallbacks == 0 && st.GSOBuffers == 0:
				t.Error("GSO on, not refused, and no GSO buffer sent")
			case !off && st.GSOFallbacks == 0 && st.TxCalls > 4:
				t.Errorf("%d sendmmsg calls for 700 datagrams in GSO buffers", st.TxCalls)
			}
		})
	}
}

// TestUDPGSOFallback: a GSO buffer the kernel refuses (here: segments larger than
// the interface's MTU, which GSO never fragments) is sent again as plain datagrams,
// the refusal is counted once and GSO stays off for the transport's life.
func TestUDPGSOFallback(t *testing.T) {
	nw := testnet.New(t, 2, testnet.Options{})
	cfg := UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.10"), Port: 19040}
	var snd, rcv *UDP
	if err := nw.Hosts[0].Do(func() (err error) { snd, err = ListenUDP(RoleSender, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if err := nw.Hosts[1].Do(func() (err error) { rcv, err = ListenUDP(RoleReceiver, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	var pkts [][]byte
	for i := range 20 {
		pkts = append(pkts, fmt.Appendf(bytes.Repeat([]byte{byte(i)}, 1992), "%08d", i))
	}
	sendLaidOut(t, snd, pkts[:10])
	sendLaidOut(t, snd, pkts[10:])
	got := collect(t, rcv, len(pkts))
	for j := range pkts {
		if !bytes.Equal(got[j], pkts[j]) {
			t.Fatalf("datagram %d differs", j)
		}
	}
	st := snd.Stats()
	t.Logf("sender: %+v", st)
	if st.GSOFallbacks != 1 || st.GSOBuffers != 0 || st.TxPackets != 20 {
		t.Errorf("fallbacks %d, GSO buffers %d, datagrams %d; want 1, 0, 20", st.GSOFallbacks, st.GSOBuffers, st.TxPackets)
	}
}

func TestContiguous(t *testing.T) {
	buf := make([]byte, 30)
	if _, ok := contiguous([][]byte{buf[0:10], buf[10:20], buf[20:25]}); !ok {
		t.Error("back-to-back slices not seen as contiguous")
	}
	if w, ok := contiguous([][]byte{buf[0:10:10], buf[10:20]}); ok {
		t.Errorf("a capped slice was extended: %d bytes", len(w))
	}
	if _, ok := contiguous([][]byte{buf[0:10], buf[11:21]}); ok {
		t.Error("a gap was not seen")
	}
	if _, ok := contiguous([][]byte{buf[10:20], buf[0:10]}); ok {
		t.Error("slices out of order were taken as contiguous")
	}
}
