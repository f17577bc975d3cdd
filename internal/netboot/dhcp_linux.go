package netboot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"
)

// lease is what init takes from a DHCP server: an address and maybe a
// router. Names, DNS servers and boot files are of no use to mcrecv.
type lease struct {
	Addr   netip.Prefix
	Router netip.Addr
	Server netip.Addr
	Time   time.Duration
	T1     time.Duration // renewal time (option 58; 0 = Time/2)
	raw    *nclient4.Lease
}

// dhcpLease asks for an address on iface until one comes or ctx ends,
// logging each failed round so the console shows why a machine waits.
//
// insomniacslk/dhcp's nclient4 does it with a packet socket (a client
// has no address to send from until it has a lease) and parses the
// server's options, hostile input, in a fuzzed, widely used parser.
func dhcpLease(ctx context.Context, iface string, logf func(string, ...any)) (lease, error) {
	waitEntropy(logf)
	for attempt := 1; ; attempt++ {
		l, err := dhcpOnce(ctx, iface)
		if err == nil {
			return l, nil
		}
		if ctx.Err() != nil {
			return lease{}, ctx.Err()
		}
		logf("DHCP on %s: %v (attempt %d; retrying)", iface, err, attempt)
		select {
		case <-ctx.Done():
			return lease{}, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * time.Second):
		}
	}
}

func dhcpOnce(ctx context.Context, iface string) (lease, error) {
	c, err := nclient4.New(iface, nclient4.WithTimeout(4*time.Second), nclient4.WithRetry(2))
	if err != nil {
		return lease{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	l, err := c.Request(ctx)
	if err != nil {
		return lease{}, err
	}
	ack := l.ACK
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsGlobalUnicast() {
		return lease{}, fmt.Errorf("server offered no usable address (%v)", ack.YourIPAddr)
	}
	bits := 24
	if m := ack.SubnetMask(); m != nil {
		ones, size := m.Size()
		if size != 32 || ones < 1 || ones > 30 {
			return lease{}, errors.New("server sent a bad subnet mask")
		}
		bits = ones
	}
	out := lease{Addr: netip.PrefixFrom(ip, bits), Time: ack.IPAddressLeaseTime(0), T1: ack.IPAddressRenewalTime(0), raw: l}
	if r := ack.Router(); len(r) > 0 {
		if a, ok := netip.AddrFromSlice(r[0].To4()); ok && a.IsGlobalUnicast() {
			out.Router = a
		}
	}
	if a, ok := netip.AddrFromSlice(ack.ServerIPAddr.To4()); ok {
		out.Server = a
	}
	return out, nil
}

// waitEntropy makes sure a DHCP transaction ID can be had. nclient4 draws
// it with getrandom(GRND_NONBLOCK) and spins until the kernel's random
// pool is ready, which never happens by itself in a VM without an entropy
// source: a blocking getrandom makes the kernel gather jitter entropy
// (Linux 5.18 on) and returns in about a second. Should it not, the ID
// comes from /dev/urandom (UROOT_NOHWRNG), good enough for a DHCP xid.
func waitEntropy(logf func(string, ...any)) {
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		var b [1]byte
		_, err := unix.Getrandom(b[:], 0)
		done <- err
	}()
	select {
	case err := <-done:
		if d := time.Since(t0); err != nil || d > time.Second {
			logf("random pool ready after %.1fs (%v)", d.Seconds(), err)
		}
		if err == nil {
			return
		}
	case <-time.After(5 * time.Second):
		logf("random pool not ready after 5s: DHCP transaction IDs from /dev/urandom")
	}
	os.Setenv("UROOT_NOHWRNG", "1")
}
