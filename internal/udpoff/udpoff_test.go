package udpoff

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/discuscast/discus/internal/testnet"
)

func TestRuns(t *testing.T) {
	mk := func(sizes ...int) [][]byte {
		var p [][]byte
		for _, s := range sizes {
			p = append(p, make([]byte, s))
		}
		return p
	}
	cases := []struct {
		sizes []int
		want  string
	}{
		{[]int{100, 100, 100}, "[3x100]"},
		{[]int{100, 100, 60, 100}, "[3x100][1x100]"},
		{[]int{60, 100, 100}, "[1x60][2x100]"},
		{[]int{100}, "[1x100]"},
	}
	for _, c := range cases {
		got := ""
		Runs(mk(c.sizes...), func(run [][]byte, seg int) { got += fmt.Sprintf("[%dx%d]", len(run), seg) })
		if got != c.want {
			t.Errorf("%v: runs %s, want %s", c.sizes, got, c.want)
		}
	}
	var big [][]byte
	for range 200 {
		big = append(big, make([]byte, 1464))
	}
	n := 0
	Runs(big, func(run [][]byte, seg int) {
		if len(run) > MaxSegments || len(run)*seg > MaxBuffer {
			t.Fatalf("a run of %d × %d bytes", len(run), seg)
		}
		n += len(run)
	})
	if n != 200 {
		t.Fatalf("runs covered %d of 200 packets", n)
	}
}

// TestGSOGRO: one GSO write of 41 datagrams to a multicast group in a private
// namespace reaches a plain socket as 41 datagrams and a GRO socket as fewer,
// larger reads that split back into the same 41 datagrams, in order.
func TestGSOGRO(t *testing.T) {
	h := testnet.NewLoopback(t)
	group := &net.UDPAddr{IP: net.IPv4(239, 255, 0, 77), Port: 19377}
	var plain, gro, snd *net.UDPConn
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		open := func() (*net.UDPConn, error) {
			c, err := net.ListenMulticastUDP("udp4", ifi, group)
			if err != nil {
				return nil, err
			}
			return c, c.SetReadBuffer(4 << 20)
		}
		if plain, err = open(); err != nil {
			return err
		}
		if gro, err = open(); err != nil {
			return err
		}
		rc, err := gro.SyscallConn()
		if err != nil {
			return err
		}
		if err := EnableGRO(rc); err != nil {
			return fmt.Errorf("UDP_GRO: %w", err)
		}
		if snd, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero}); err != nil {
			return err
		}
		p := ipv4.NewPacketConn(snd)
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		return p.SetMulticastLoopback(true)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	defer gro.Close()
	defer snd.Close()

	var pkts [][]byte
	for i := range 40 {
		pkts = append(pkts, bytes.Repeat([]byte{byte(i)}, 1400))
	}
	pkts = append(pkts, []byte("a shorter last one"))
	writes := 0
	Runs(pkts, func(run [][]byte, seg int) {
		buf := bytes.Join(run, nil)
		var oob []byte
		if len(run) > 1 {
			oob = SegmentOOB(seg)
		}
		if _, _, err := snd.WriteMsgUDP(buf, oob, group); err != nil {
			if Refused(err) {
				t.Skipf("this kernel refuses UDP GSO here: %v", err)
			}
			t.Fatal(err)
		}
		writes++
	})
	if writes != 1 {
		t.Fatalf("%d writes for one run", writes)
	}

	read := func(c *net.UDPConn) (got [][]byte, reads int) {
		buf := make([]byte, 65536)
		oob := make([]byte, GROOOBSpace)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for len(got) < len(pkts) {
			n, oobn, _, _, err := c.ReadMsgUDP(buf, oob)
			if err != nil {
				t.Fatalf("after %d datagrams: %v", len(got), err)
			}
			reads++
			Split(buf[:n], GROSize(oob[:oobn]), func(d []byte) { got = append(got, append([]byte(nil), d...)) })
		}
		return got, reads
	}
	for name, c := range map[string]*net.UDPConn{"plain": plain, "gro": gro} {
		got, reads := read(c)
		for i := range pkts {
			if !bytes.Equal(got[i], pkts[i]) {
				t.Fatalf("%s: datagram %d differs (%d bytes, want %d)", name, i, len(got[i]), len(pkts[i]))
			}
		}
		t.Logf("%s socket: %d datagrams in %d reads", name, len(got), reads)
		if name == "plain" && reads != len(pkts) {
			t.Errorf("the plain socket got %d reads for %d datagrams", reads, len(pkts))
		}
	}
}
