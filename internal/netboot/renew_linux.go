package netboot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// minRenewWait keeps a server that grants leases of seconds (or says T1 = 0) from
// making init renew in a loop.
const minRenewWait = 10 * time.Second

// renewWait is how long after getting (or renewing) l init waits before renewing it:
// T1 (RFC 2131 §4.4.5: the server's option 58, else half the lease). A lease of 0 or
// "infinite" (0xffffffff s) is never renewed (0).
func renewWait(l lease) time.Duration {
	if l.Time <= 0 || l.Time >= 0xffffffff*time.Second {
		return 0
	}
	t1 := l.T1
	if t1 <= 0 || t1 >= l.Time {
		t1 = l.Time / 2
	}
	return max(t1, minRenewWait)
}

// keepLease renews l at T1 for as long as ctx lasts: a session longer than the lease
// (a large image over a slow link) must not leave the machine with an address the
// server hands to another. A failed renewal is retried at half the time left, at least
// minRenewWait later; a refusal (NAK) or an address the server changed is said on the
// console, and the address stays: mcrecv's session needs it to the end, and the
// sender's table of receivers shows any clash.
func keepLease(ctx context.Context, iface string, l lease, logf func(string, ...any)) {
	got := time.Now()
	wait := renewWait(l)
	for wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(got.Add(wait))):
		}
		nl, err := renewLease(ctx, iface, l)
		switch {
		case err == nil && nl.Addr != l.Addr:
			logf("DHCP: the server renewed with another address, %s (keeping %s until the image is in)", nl.Addr, l.Addr)
			return
		case err == nil:
			logf("DHCP: renewed %s for %v", nl.Addr, nl.Time)
			l, got, wait = nl, time.Now(), renewWait(nl)
		case errors.Is(err, errNak):
			logf("DHCP: the server refused to renew %s (%v); keeping it until the image is in", l.Addr, err)
			return
		default:
			left := l.Time - time.Since(got)
			logf("DHCP: renewing %s: %v (%v of the lease left; retrying)", l.Addr, err, left.Round(time.Second))
			if left <= 0 {
				return
			}
			got, wait = time.Now(), max(left/2, minRenewWait)
			l.Time = left
		}
	}
}

var errNak = errors.New("NAK")

// renewLease sends one renewing DHCPREQUEST for l (its ACK's address, to its server)
// and returns the lease the server's ACK makes of it.
func renewLease(ctx context.Context, iface string, l lease) (lease, error) {
	if l.raw == nil {
		return lease{}, errors.New("no lease to renew")
	}
	c, err := nclient4.New(iface, nclient4.WithTimeout(4*time.Second), nclient4.WithRetry(2))
	if err != nil {
		return lease{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	nl, err := c.Renew(ctx, l.raw)
	var nak *nclient4.ErrNak
	if errors.As(err, &nak) {
		return lease{}, fmt.Errorf("%w: %v", errNak, err)
	}
	if err != nil {
		return lease{}, err
	}
	ack := nl.ACK
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsGlobalUnicast() {
		return lease{}, fmt.Errorf("server renewed no usable address (%v)", ack.YourIPAddr)
	}
	out := l
	out.Addr = netip.PrefixFrom(ip, l.Addr.Bits())
	out.Time, out.T1, out.raw = ack.IPAddressLeaseTime(0), ack.IPAddressRenewalTime(0), nl
	return out, nil
}
