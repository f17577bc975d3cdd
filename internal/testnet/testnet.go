// Package testnet builds private test networks out of Linux network
// namespaces: a bridge namespace joining one namespace per host through veth
// pairs, addresses in 198.18.0.0/15, a multicast route on every host. Tests
// use it to run real UDP multicast without ever touching the machine's own
// interfaces. It needs root and iproute2; without them New skips the test.
package testnet

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Options shapes a test network. The zero value is an MTU-1500 bridge.
type Options struct {
	MTU int // 0 = 1500
}

// Net is a bridge namespace and the hosts attached to it.
type Net struct {
	Bridge string // name of the bridge namespace
	Hosts  []*Host
}

// Host is one namespace attached to the bridge by a veth pair whose inside
// end is called Iface.
type Host struct {
	NS    string     // namespace name, usable with `ip netns exec`
	Iface string     // the host's interface inside NS
	Addr  netip.Addr // 198.18.0.(index+1)
}

var seq atomic.Int64

// newID names a test network. The random part keeps a name from a recycled
// process ID clear of a namespace an earlier run could not remove (another
// mount namespace still holding its file).
func newID() string {
	return fmt.Sprintf("dsc%d-%d-%04x", os.Getpid()%100000, seq.Add(1), rand.IntN(1<<16))
}

// Available reports why namespaces cannot be made here, or "" when they can.
func Available() string {
	if os.Geteuid() != 0 {
		return "needs root to create network namespaces"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs iproute2's ip command"
	}
	return ""
}

// New creates a bridge and n hosts; everything is removed when the test ends.
// When namespaces cannot be created the test is skipped with the reason,
// except under CI (CI=true), where a missing capability is a failure.
func New(t testing.TB, n int, opt Options) *Net {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testnet: %s (CI must run namespace tests)", why)
		}
		t.Skipf("testnet: %s", why)
	}
	if opt.MTU == 0 {
		opt.MTU = 1500
	}
	id := newID()
	nw := &Net{Bridge: id + "-br"}
	t.Cleanup(nw.destroy)
	mustIP(t, "netns", "add", nw.Bridge)
	mustIP(t, "-n", nw.Bridge, "link", "set", "lo", "up")
	// No IGMP querier exists here, so snooping would starve receivers.
	mustIP(t, "-n", nw.Bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	mustIP(t, "-n", nw.Bridge, "link", "set", "br0", "mtu", fmt.Sprint(opt.MTU), "up")
	for i := range n {
		h := &Host{NS: fmt.Sprintf("%s-h%d", id, i), Iface: "e0",
			Addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})}
		nw.Hosts = append(nw.Hosts, h)
		peer := fmt.Sprintf("p%d", i)
		mustIP(t, "netns", "add", h.NS)
		mustIP(t, "-n", h.NS, "link", "set", "lo", "up")
		mustIP(t, "-n", h.NS, "link", "add", "e0", "mtu", fmt.Sprint(opt.MTU), "type", "veth",
			"peer", "name", peer, "mtu", fmt.Sprint(opt.MTU), "netns", nw.Bridge)
		mustIP(t, "-n", nw.Bridge, "link", "set", peer, "master", "br0", "up")
		mustIP(t, "-n", h.NS, "addr", "add", h.Addr.String()+"/24", "brd", "+", "dev", "e0")
		mustIP(t, "-n", h.NS, "link", "set", "e0", "up")
		mustIP(t, "-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "e0")
	}
	return nw
}

func (nw *Net) destroy() {
	for _, h := range nw.Hosts {
		_ = exec.Command("ip", "netns", "del", h.NS).Run()
	}
	_ = exec.Command("ip", "netns", "del", nw.Bridge).Run()
}

func mustIP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Command returns a command that runs inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs a command in the host's namespace and fails the test on error.
func (h *Host) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := h.Command(context.Background(), name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %s %s: %v: %s", h.NS, name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// Do runs fn on an OS thread that has entered the host's namespace, so the
// sockets fn opens live there; once open they work from any goroutine. The
// thread is discarded afterwards rather than returned to the scheduler with a
// foreign namespace.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open("/run/netns/" + h.NS)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", h.NS, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// DropInput makes the host drop each incoming UDP datagram with probability p,
// with iptables' statistic match (this kernel has no netem).
func (h *Host) DropInput(t testing.TB, p float64) {
	t.Helper()
	needIptables(t)
	h.Run(t, "iptables", "-A", "INPUT", "-p", "udp", "-m", "statistic", "--mode", "random",
		"--probability", fmt.Sprintf("%.4f", p), "-j", "DROP")
}

// PoliceInput lets at most pps UDP datagrams a second into the host (with a
// small burst) and drops the rest, as a slow link or overloaded NIC would.
func (h *Host) PoliceInput(t testing.TB, pps int) {
	t.Helper()
	needIptables(t)
	h.Run(t, "iptables", "-A", "INPUT", "-p", "udp", "-m", "limit", "--limit", fmt.Sprintf("%d/second", pps),
		"--limit-burst", fmt.Sprint(max(pps/50, 5)), "-j", "ACCEPT")
	h.Run(t, "iptables", "-A", "INPUT", "-p", "udp", "-j", "DROP")
}

func needIptables(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("iptables"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("testnet: iptables is not installed")
		}
		t.Skip("testnet: iptables is not installed")
	}
}

// NewLoopback creates one namespace whose loopback carries multicast: the
// quickest private place for a sender and receivers on one host.
func NewLoopback(t testing.TB) *Host {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testnet: %s (CI must run namespace tests)", why)
		}
		t.Skipf("testnet: %s", why)
	}
	h := &Host{NS: newID() + "-lo", Iface: "lo",
		Addr: netip.MustParseAddr("127.0.0.1")}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", h.NS).Run() })
	mustIP(t, "netns", "add", h.NS)
	mustIP(t, "-n", h.NS, "link", "set", "lo", "up")
	mustIP(t, "-n", h.NS, "link", "set", "lo", "multicast", "on")
	mustIP(t, "-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "lo")
	return h
}
