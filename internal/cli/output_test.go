package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast/wire"
	"github.com/discuscast/discus/session"
)

func TestMessage(t *testing.T) {
	_, perr := os.Open("/nonexistent/x.dsc")
	for _, c := range []struct {
		err  error
		want string
		code int
	}{
		{fmt.Errorf("mcast: session: %w", context.Canceled), "interrupted", ExitFailure},
		{perr, "/nonexistent/x.dsc: no such file or directory", ExitIO},
		{fmt.Errorf("a.dsc: %w", fmt.Errorf("a.dsc: %w: no trailer", image.ErrTruncated)), "a.dsc: truncated image: no trailer", ExitVerify},
		{fmt.Errorf("%w: want SRC IMAGE", ErrUsage), "want SRC IMAGE", ExitUsage},
		{fmt.Errorf("%w: none within 1s", session.ErrStartTimeout), "start timeout: none within 1s", ExitStart},
		{fmt.Errorf("/dev/loop3: %w", ErrEmptySource), "/dev/loop3: " + ErrEmptySource.Error(), ExitIO},
	} {
		if got := Message(c.err); got != c.want {
			t.Errorf("Message(%v) = %q, want %q", c.err, got, c.want)
		}
		if got := ExitCode(c.err); got != c.code {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}

func TestUsageAndParse(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.String("image-id", "", "join only this `ID`")
	fs.String("gaps", "leave", "what to do")
	fs.Int("ttl", 1, "multicast TTL")
	fs.Bool("v", false, "verbose")
	SetUsage(fs, "usage: tool [flags] X")
	var out, errb bytes.Buffer
	if code, ok := Parse(fs, "tool", []string{"--help"}, &out, &errb); ok || code != 0 {
		t.Fatalf("--help: %d %v", code, ok)
	}
	for _, want := range []string{"  --image-id ID\n", "  --gaps VALUE\n", `(default "leave")`, "  --ttl N\n", "(default 1)", "  -v\n", "  --version\n", ExitCodesHelp} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code, ok := Parse(fs, "tool", []string{"--bogus"}, &out, &errb); ok || code != ExitUsage ||
		errb.String() != "tool: flag provided but not defined: --bogus\nRun 'tool --help' for usage.\n" {
		t.Errorf("--bogus: %d %v %q", code, ok, errb.String())
	}
	fs2 := flag.NewFlagSet("tool", flag.ContinueOnError)
	out.Reset()
	if code, ok := Parse(fs2, "tool", []string{"--version"}, &out, &errb); ok || code != 0 || !strings.Contains(out.String(), "protocol version") {
		t.Errorf("--version: %d %v %q", code, ok, out.String())
	}
}

func TestPlainLogger(t *testing.T) {
	var b bytes.Buffer
	l := NewLogger(&b, false)
	l.Info("mcast: sending", "receivers", 3)
	l.Warn("mcast: receiver lost", "node", uint64(0xde59f476c6ee1257), "chunks", 12)
	l.Error("mcast: receiver stopped", "err", fmt.Errorf("mcast: %w", image.ErrKey))
	l.Error("mcast: session ended", "err", fmt.Errorf("unusable: %w", image.ErrKey)) // the same error, passed up
	want := "warning: receiver lost (node de59f476c6ee1257, chunks 12)\n" +
		"error: receiver stopped (encrypted image: no key or the wrong key)\n"
	if b.String() != want {
		t.Errorf("plain log:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPercentETA(t *testing.T) {
	if Percent(999, 1000) != 99 || Percent(1000, 1000) != 100 || Percent(2000, 1000) != 100 || Percent(1, 0) != 0 {
		t.Error("Percent")
	}
	if ETA(1000, 1000, 5) != "" || ETA(10, 1000, 0) != "" || ETA(0, 0, 5) != "" {
		t.Error("ETA shown where it means nothing")
	}
	if got := ETA(500, 1000, 100); got != "ETA 5.0 s" {
		t.Errorf("ETA = %q", got)
	}
	var m Meter
	t0 := time.Unix(0, 0)
	for i := range 20 {
		m.Add(t0.Add(time.Duration(i)*time.Second), int64(i)*100)
	}
	if r := m.Rate(); r != 100 {
		t.Errorf("Rate = %v, want 100", r)
	}
}

// TestStatsKeys: every key the --stats-json files can hold is snake_case.
func TestStatsKeys(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct {
			return
		}
		for i := range ty.NumField() {
			f := ty.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !snake.MatchString(name) {
				t.Errorf("%s.%s: json key %q", ty.Name(), f.Name, name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(SendStatsFile{}))
	walk(reflect.TypeOf(RecvStatsFile{}))
	for k := range DropsJSON(wire.Drops{}) {
		if !snake.MatchString(k) {
			t.Errorf("drop reason %q", k)
		}
	}
}

func TestNetErrors(t *testing.T) {
	var n NetFlags
	join := fmt.Errorf("mcast: join 239.255.67.83: %w", os.NewSyscallError("setsockopt", syscall.ENODEV))
	if err := n.NetError(join); ExitCode(err) != ExitUsage || !strings.Contains(Message(err), "give --interface NAME") {
		t.Errorf("no multicast route: %v (exit %d)", err, ExitCode(err))
	}
	other := os.NewSyscallError("sendmmsg", syscall.ENETUNREACH)
	if err := n.NetError(other); err != other {
		t.Errorf("NetError changed %v", other)
	}
	n = NetFlags{Interface: "nosuch0", Portbase: 9000, TTL: 1}
	if _, err := n.UDPConfig(); ExitCode(err) != ExitUsage || !strings.HasPrefix(Message(err), `no network interface named "nosuch0"`) {
		t.Errorf("missing interface: %v", err)
	}
	n = NetFlags{DataAddr: "10.0.0.1", Portbase: 9000, TTL: 1}
	if _, err := n.UDPConfig(); ExitCode(err) != ExitUsage || !strings.Contains(Message(err), "not a multicast address") {
		t.Errorf("unicast group: %v", err)
	}
}

func TestVersion(t *testing.T) {
	defer func(r string) { Release = r }(Release)
	Release = "v1.2.3"
	want := fmt.Sprintf("mcsend v1.2.3\nprotocol version %d, image format version %d, ", wire.Version, image.FormatVersion)
	if got := Version("mcsend"); !strings.HasPrefix(got, want) {
		t.Errorf("Version = %q, want prefix %q", got, want)
	}
	Release = ""
	if got := Version("mcrecv"); !strings.HasPrefix(got, "mcrecv devel") && !strings.HasPrefix(got, "mcrecv v") {
		t.Errorf("Version without a release = %q", got)
	}
}
