package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/testnet"
)

// TestSendRecvExitCodes provokes every exit code mcsend and mcrecv document,
// over multicast on the loopback of a private namespace, and checks that
// what they print is plain.
func TestSendRecvExitCodes(t *testing.T) {
	h := testnet.NewLoopback(t)
	dir := t.TempDir()
	img := makeImage(t, diskFile(t, dir, 4<<20, 31))
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.dsc")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	key1, key2 := filepath.Join(dir, "k1"), filepath.Join(dir, "k2")
	os.WriteFile(key1, []byte("0123456789abcdef0123456789abcdef"), 0o600)
	os.WriteFile(key2, []byte("fedcba9876543210fedcba9876543210"), 0o600)
	enc := filepath.Join(dir, "enc.dsc")
	if code, out := run(t, nil, nil, "mcimage", "create", "--raw", "--encrypt", key1, diskFile(t, dir, 1<<20, 32), enc); code != 0 {
		t.Fatalf("mcimage create --encrypt: %d\n%s", code, out)
	}
	port := 9000
	net := func() []string { port += 2; return []string{"--interface", "lo", "--portbase", strconv.Itoa(port)} }
	check := func(what string, code, want int, out, says string) {
		t.Helper()
		if code != want || !strings.Contains(out, says) {
			t.Errorf("%s: exit %d, want %d, output should say %q:\n%s", what, code, want, says, out)
		}
		plain(t, what, out)
	}

	// Without a network session.
	for _, tool := range []string{"mcsend", "mcrecv"} {
		code, out := run(t, h, nil, tool, "--no-such-flag", "x")
		check(tool+" bad flag", code, cli.ExitUsage, out, "--no-such-flag")
		code, out = run(t, h, nil, tool, "--interface", "nosuch0", "x")
		check(tool+" no such interface", code, cli.ExitUsage, out, `no network interface named "nosuch0"`)
	}
	code, out := run(t, h, nil, "mcsend", append(net(), filepath.Join(dir, "nonexistent.dsc"))...)
	check("mcsend missing source", code, cli.ExitIO, out, "no such file")
	code, out = run(t, h, nil, "mcsend", append(net(), cut)...)
	check("mcsend corrupt image", code, cli.ExitVerify, out, "truncated")
	code, out = run(t, h, nil, "mcrecv", append(net(), "--start-timeout", "1", "/nonexistent/dir/disk")...)
	check("mcrecv unwritable target", code, cli.ExitIO, out, "no such file")

	// Nobody on the other side.
	code, out = run(t, h, nil, "mcsend", append(net(), "--start-timeout", "1", img)...)
	check("mcsend start timeout", code, cli.ExitStart, out, "start timeout")
	code, out = run(t, h, nil, "mcsend", append(net(), "--max-wait", "1", img)...)
	check("mcsend no receivers", code, cli.ExitNoReceivers, out, "no receivers")
	code, out = run(t, h, nil, "mcrecv", append(net(), "--start-timeout", "1", filepath.Join(dir, "t3"))...)
	check("mcrecv start timeout", code, cli.ExitStart, out, "start timeout")
	for _, tool := range []string{"mcsend", "mcrecv"} {
		code, out = interrupt(t, h, nil, time.Second, tool, append(net(), img)...)
		check(tool+" interrupted", code, cli.ExitFailure, out, tool+": interrupted")
	}

	// A session: success, with both stats files parsed.
	n := net()
	target := filepath.Join(dir, "t0")
	rx := start(t, h, "mcrecv", append(append([]string{"mcrecv", "--progress"}, n...), "--start-timeout", "20",
		"--stats-json", filepath.Join(dir, "r.json"), target)...)
	code, out = run(t, h, nil, "mcsend", append(n, "--progress", "--start-timeout", "20", "--stats-json", filepath.Join(dir, "s.json"), img)...)
	check("mcsend", code, cli.ExitOK, out, "1/1 receivers complete, ")
	rx.wait(t, 0)
	check("mcrecv", rx.code, cli.ExitOK, rx.out.String(), "verified, written to "+target)
	statsFiles(t, filepath.Join(dir, "s.json"), filepath.Join(dir, "r.json"))
	t.Logf("mcsend: %s", lastLine(out))
	t.Logf("mcrecv: %s", rx.lastLine())

	// Lost: the receiver dies mid-transfer (mcsend 5), the sender dies
	// mid-transfer (mcrecv 5). 4 MiB that do not compress at 4 Mbit/s
	// take 8 s: both are killed long before the end.
	rnd := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range rnd {
		rnd[i] = byte(rng.Uint32())
	}
	os.WriteFile(filepath.Join(dir, "rnd.raw"), rnd, 0o644)
	img = makeImage(t, filepath.Join(dir, "rnd.raw"))
	n = net()
	rx = start(t, h, "mcrecv", append(append([]string{"mcrecv"}, n...), "--start-timeout", "20", filepath.Join(dir, "t5"))...)
	snd := start(t, h, "mcsend", append(append([]string{"mcsend"}, n...), "--rate", "4m", "--receiver-timeout", "1", img)...)
	time.Sleep(1500 * time.Millisecond)
	_ = rx.cmd.Process.Signal(syscall.SIGKILL)
	<-snd.done
	check("mcsend receiver lost", snd.code, cli.ExitLost, snd.out.String(), "0/1 receivers complete (1 lost) after ")
	t.Logf("mcsend, receiver killed:\n%s", snd.out.String())
	n = net()
	rx = start(t, h, "mcrecv", append(append([]string{"mcrecv"}, n...), "--start-timeout", "20", "--receive-timeout", "2", filepath.Join(dir, "t5b"))...)
	snd = start(t, h, "mcsend", append(append([]string{"mcsend"}, n...), "--rate", "4m", img)...)
	time.Sleep(1500 * time.Millisecond)
	_ = snd.cmd.Process.Signal(syscall.SIGKILL)
	<-rx.done
	check("mcrecv sender lost", rx.code, cli.ExitLost, rx.out.String(), "sender lost")

	// Verification: an encrypted image and the wrong key.
	n = net()
	snd = start(t, h, "mcsend", append(append([]string{"mcsend"}, n...), "--start-timeout", "20", enc)...)
	code, out = run(t, h, nil, "mcrecv", append(n, "--start-timeout", "20", "--decrypt", key2, filepath.Join(dir, "t6"))...)
	check("mcrecv wrong key", code, cli.ExitVerify, out, "wrong key")
	_ = snd.cmd.Process.Signal(syscall.SIGINT)
	<-snd.done
}

func validAddrPort(s string) bool {
	ap, err := netip.ParseAddrPort(s)
	return err == nil && ap.Port() != 0
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// statsFiles parses both --stats-json files and checks their style: every
// key snake_case, node IDs hex strings, drops an object of named reasons.
func statsFiles(t *testing.T, send, recv string) {
	t.Helper()
	var s, r map[string]any
	for p, v := range map[string]*map[string]any{send: &s, recv: &r} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		keys(t, filepath.Base(p), *v)
	}
	if s["exit_code"] != 0.0 || s["receivers_done"] != 1.0 || s["tool"] != "mcsend" {
		t.Errorf("send stats: exit_code %v, receivers_done %v, tool %v", s["exit_code"], s["receivers_done"], s["tool"])
	}
	rs, _ := s["receivers"].([]any)
	if len(rs) != 1 {
		t.Fatalf("send stats: receivers %v", s["receivers"])
	}
	r0 := rs[0].(map[string]any)
	if id, ok := r0["node_id"].(string); !ok || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) || r0["state"] != "done" {
		t.Errorf("send stats: receiver %v: want a 16-digit hex node_id, state done", r0)
	}
	// On a namespace's loopback the kernel gives multicast from an unbound
	// socket the source 0.0.0.0: only the form is checked here (the serve
	// test checks the host's own address on a bridge).
	if a, _ := r0["address"].(string); !validAddrPort(a) {
		t.Errorf("send stats: receiver address %q, want ADDR:PORT", r0["address"])
	}
	sender := s["sender"].(map[string]any)
	drops, ok := sender["dropped_packets"].(map[string]any)
	if !ok || drops["window"] == nil || drops["auth"] == nil {
		t.Errorf("send stats: dropped_packets %v: want an object of named reasons", sender["dropped_packets"])
	}
	if g, _ := sender["goodput_bytes_per_s"].(float64); g <= 0 {
		t.Errorf("send stats: goodput_bytes_per_s %v", sender["goodput_bytes_per_s"])
	}
	img := s["image"].(map[string]any)
	if r["exit_code"] != 0.0 || r["image_bytes"] != img["stored_bytes"] {
		t.Errorf("recv stats: exit_code %v, image_bytes %v (image stored_bytes %v)", r["exit_code"], r["image_bytes"], img["stored_bytes"])
	}
}

// keys checks that every key in v is snake_case (drop reasons included).
func keys(t *testing.T, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snake.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", where, k)
			}
			keys(t, where+"."+k, e)
		}
	case []any:
		for _, e := range x {
			keys(t, where, e)
		}
	}
}
