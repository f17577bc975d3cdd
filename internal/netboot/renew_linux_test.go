package netboot

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/testnet"
)

func TestRenewWait(t *testing.T) {
	for _, c := range []struct {
		l    lease
		want time.Duration
	}{
		{lease{Time: time.Hour}, 30 * time.Minute},
		{lease{Time: time.Hour, T1: 20 * time.Minute}, 20 * time.Minute},
		{lease{Time: time.Hour, T1: 2 * time.Hour}, 30 * time.Minute}, // T1 past the lease: ignored
		{lease{Time: 4 * time.Second}, minRenewWait},
		{lease{Time: 0xffffffff * time.Second}, 0}, // infinite
		{lease{}, 0},
	} {
		if got := renewWait(c.l); got != c.want {
			t.Errorf("renewWait(%v, T1 %v) = %v, want %v", c.l.Time, c.l.T1, got, c.want)
		}
	}
}

// TestLeaseRenewal: a lease from dnsmasq at its shortest (2 minutes: T1 at 1 minute)
// is renewed for the same address, as init does at T1 while mcrecv works, without
// waiting for T1 here.
func TestLeaseRenewal(t *testing.T) {
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("dnsmasq not installed (scripts/install-deps.sh)")
	}
	nw := testnet.New(t, 2, testnet.Options{})
	srv, cli := nw.Hosts[0], nw.Hosts[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli.Run(t, "ip", "addr", "flush", "dev", cli.Iface)
	out := startDnsmasq(t, ctx, srv, "2m", "--log-dhcp")
	err := cli.Do(func() error {
		ifc, err := net.InterfaceByName(cli.Iface)
		if err != nil {
			return err
		}
		l, err := dhcpLease(ctx, cli.Iface, t.Logf)
		if err != nil {
			return err
		}
		if l.Time != 2*time.Minute || renewWait(l) != time.Minute {
			t.Errorf("lease %v T1 %v: renewal in %v, want 1m0s", l.Time, l.T1, renewWait(l))
		}
		if err := addAddr(ifc.Index, l.Addr); err != nil {
			return err
		}
		nl, err := renewLease(ctx, cli.Iface, l)
		if err != nil {
			return err
		}
		t.Logf("ASSERT lease %v for %v renewed: %v for %v", l.Addr, l.Time, nl.Addr, nl.Time)
		if nl.Addr != l.Addr || nl.Time != 2*time.Minute {
			t.Errorf("renewed %v for %v, want %v for 2m0s", nl.Addr, nl.Time, l.Addr)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\ndnsmasq:\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "DHCPACK"); n < 2 {
		t.Fatalf("dnsmasq acknowledged %d times, want the lease and its renewal:\n%s", n, out.String())
	}
}

// lockedBuffer is a strings.Builder safe to write from exec's copying goroutine while
// the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
