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
		if got := collect(t, tr, 1); string(got[0]) != "request" {
			t.Fatalf("control packet: got %q", got[0])
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
	var got [][]byte
	timeout := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case b, ok := <-tr.Incoming():
			if !ok {
				t.Fatalf("transport closed: %v", tr.Err())
			}
			for _, p := range b.Pkts {
				got = append(got, append([]byte(nil), p...))
			}
			tr.Release(b)
		case <-timeout:
			t.Fatalf("got %d of %d datagrams", len(got), n)
		}
	}
	return got
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
