package netboot

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	got, err := ParseCmdline(`BOOT_IMAGE=/vmlinuz console=ttyS0 quiet discus.target=/dev/vda ` +
		`discus.ip=198.18.0.10/24 discus.iface=eth0 discus.group=239.1.2.3 discus.port=9100 ` +
		`discus.key=/etc/discus/key discus.trust=/etc/discus/trust discus.grow=1 discus.memory=64m discus.then=reboot` + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Target: "/dev/vda", Addr: netip.MustParsePrefix("198.18.0.10/24"), Iface: "eth0",
		Group: netip.MustParseAddr("239.1.2.3"), Port: 9100, Key: "/etc/discus/key",
		Trust: "/etc/discus/trust", Grow: true, Memory: "64m", Then: ThenReboot}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	args := ReceiverArgs(got, "eth0", "/dev/vda")
	wantArgs := []string{"--progress", "--interface", "eth0", "--mcast-data-address", "239.1.2.3",
		"--portbase", "9100", "--key", "/etc/discus/key", "--trust", "/etc/discus/trust", "--grow", "--memory", "64m", "/dev/vda"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Fatalf("args %q", args)
	}
}

func TestParseCmdlineDefaults(t *testing.T) {
	c, err := ParseCmdline("console=ttyS0 discus.target=auto")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr.IsValid() || c.Group.IsValid() || c.Port != 0 || c.Grow || c.Then != "" {
		t.Fatalf("%+v", c)
	}
	if c.Defaults().Then != ThenPoweroff {
		t.Fatal("default then")
	}
	if a := ReceiverArgs(c, "eth0", "/dev/vda"); !reflect.DeepEqual(a, []string{"--progress", "--interface", "eth0", "/dev/vda"}) {
		t.Fatalf("%q", a)
	}
}

func TestParseCmdlineOverrideAndQuotes(t *testing.T) {
	c, err := ParseCmdline(`discus.then=shell "discus.target=/dev/sda" x="a b" discus.then=poweroff -- discus.bogus=1`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "/dev/sda" || c.Then != ThenPoweroff {
		t.Fatalf("%+v", c)
	}
}

func TestParseCmdlineErrors(t *testing.T) {
	for _, s := range []string{
		"discus.target", "discus.target=", "discus.target=sda", "discus.target=/dev/../etc/passwd",
		"discus.target=/etc/passwd", "discus.ip=198.18.0.10", "discus.ip=198.18.0.10/0",
		"discus.ip=198.18.0.10/31", "discus.ip=fe80::1/64", "discus.ip=239.1.1.1/24",
		"discus.ip=0.0.0.0/8", "discus.iface=", "discus.iface=a/b", "discus.iface=0123456789abcdef",
		"discus.group=198.18.0.1", "discus.group=x", "discus.port=0", "discus.port=65535",
		"discus.port=9k", "discus.key=key", "discus.trust=/a/../b", "discus.grow=maybe", "discus.memory=lots", "discus.memory=64t", "discus.memory=-1",
		"discus.then=halt", "discus.tagret=/dev/vda", `discus.target="/dev/vda`, "a\x00b",
		strings.Repeat("x", MaxCmdline+1),
	} {
		if c, err := ParseCmdline(s); err == nil || !errors.Is(err, ErrCmdline) {
			t.Errorf("%q: got %+v, %v; want an ErrCmdline", s, c, err)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add("console=ttyS0 discus.target=/dev/vda discus.ip=198.18.0.10/24 discus.then=reboot")
	f.Add(`discus.target=auto "discus.iface=eth0" discus.group=ff02::1:3 discus.grow=1`)
	f.Add(`x="unterminated`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCmdline(s)
		if err != nil {
			if !errors.Is(err, ErrCmdline) {
				t.Fatalf("error %v is no ErrCmdline", err)
			}
			return
		}
		// Whatever parsed must be what the validators accept.
		if c.Target != "" && c.Target != "auto" && !isDevPath(c.Target) {
			t.Fatalf("target %q", c.Target)
		}
		if c.Addr.IsValid() && !c.Addr.Addr().Is4() {
			t.Fatalf("addr %v", c.Addr)
		}
		if c.Group.IsValid() && !c.Group.IsMulticast() {
			t.Fatalf("group %v", c.Group)
		}
		if c.Port < 0 || c.Port > 65534 {
			t.Fatalf("port %d", c.Port)
		}
		for _, a := range ReceiverArgs(c, "eth0", "/dev/vda") {
			if a == "" {
				t.Fatalf("empty argument in %q", ReceiverArgs(c, "eth0", "/dev/vda"))
			}
		}
	})
}
