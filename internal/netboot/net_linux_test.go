package netboot

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/testnet"
)

// TestDHCPAndAddress gets a lease from dnsmasq over a real veth/bridge
// testbed and configures the interface with the rtnetlink helper, as init
// does in a VM.
func TestDHCPAndAddress(t *testing.T) {
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("dnsmasq not installed (scripts/install-deps.sh)")
	}
	nw := testnet.New(t, 2, testnet.Options{})
	srv, cli := nw.Hosts[0], nw.Hosts[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The client starts without an address, as a netbooted machine does.
	cli.Run(t, "ip", "addr", "flush", "dev", cli.Iface)
	out := startDnsmasq(t, ctx, srv, "1h", "--dhcp-option=3,198.18.0.1")
	err := cli.Do(func() error {
		ifc, err := net.InterfaceByName(cli.Iface)
		if err != nil {
			return err
		}
		l, err := dhcpLease(ctx, cli.Iface, t.Logf)
		if err != nil {
			return err
		}
		t.Logf("lease %+v", l)
		// dnsmasq's range is .100-.150 (a /27 check failed CI on a lease of .138).
		if a := l.Addr.Addr(); a.Less(netip.MustParseAddr("198.18.0.100")) || netip.MustParseAddr("198.18.0.150").Less(a) || l.Addr.Bits() != 24 {
			t.Errorf("lease %v", l.Addr)
		}
		if l.Router != netip.MustParseAddr("198.18.0.1") {
			t.Errorf("router %v", l.Router)
		}
		if err := addAddr(ifc.Index, l.Addr); err != nil {
			return err
		}
		if err := addRoute(ifc.Index, netip.MustParsePrefix("224.0.0.0/4"), netip.Addr{}); err != nil {
			return err
		}
		return addRoute(ifc.Index, netip.PrefixFrom(netip.IPv4Unspecified(), 0), l.Router)
	})
	if err != nil {
		t.Fatalf("%v\ndnsmasq:\n%s", err, out.String())
	}
	addrs := cli.Run(t, "ip", "-4", "addr", "show", "dev", cli.Iface)
	routes := cli.Run(t, "ip", "-4", "route", "show")
	if !strings.Contains(addrs, "brd 198.18.0.255") || !strings.Contains(routes, "224.0.0.0/4 dev "+cli.Iface) ||
		!strings.Contains(routes, "default via 198.18.0.1") {
		t.Fatalf("addresses:\n%s\nroutes:\n%s", addrs, routes)
	}
}

// startDnsmasq runs dnsmasq as the DHCP server of srv (range .100-.150 of 198.18.0.0/24,
// leases of lease, more options in extra) until the test ends, and returns its output,
// copied in while the test reads it.
func startDnsmasq(t *testing.T, ctx context.Context, srv *testnet.Host, lease string, extra ...string) *lockedBuffer {
	t.Helper()
	args := append([]string{"--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
		"--interface=" + srv.Iface, "--bind-interfaces", "--dhcp-range=198.18.0.100,198.18.0.150,255.255.255.0," + lease,
		"--dhcp-leasefile=/dev/null"}, extra...)
	d := srv.Command(ctx, "dnsmasq", args...)
	out := &lockedBuffer{}
	d.Stdout, d.Stderr = out, out
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	return out
}
