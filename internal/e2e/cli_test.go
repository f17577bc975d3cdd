package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/testnet"
	"github.com/discuscast/discus/mcast/wire"
)

// run runs a built command to its end (in h's namespace unless h is nil)
// and returns its exit code and everything it printed.
func run(t *testing.T, h *testnet.Host, stdin io.Reader, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if h != nil {
		cmd = h.Command(ctx, filepath.Join(bin, name), args...)
	} else {
		cmd = exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &out, stdin
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	return -1, ""
}

// interrupt starts a command, sends it SIGINT after d (as Ctrl-C does), and
// returns its exit code and output.
func interrupt(t *testing.T, h *testnet.Host, stdin io.Reader, d time.Duration, name string, args ...string) (int, string) {
	t.Helper()
	p := start(t, h, name, append([]string{name}, args...)...)
	if stdin != nil {
		t.Fatal("interrupt: stdin not supported with a host")
	}
	time.Sleep(d)
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	<-p.done
	return p.code, p.out.String()
}

// plain checks that output holds none of the Go internals issue 13 found.
func plain(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"context canceled", "level=", "time=", "route ip+net", "msg="} {
		if strings.Contains(out, bad) {
			t.Errorf("%s printed %q:\n%s", what, bad, out)
		}
	}
}

// TestHelpAndVersion: every tool's --help lists the exit table and spells
// its flags --flag; --version names the protocol and format versions.
func TestHelpAndVersion(t *testing.T) {
	flagDash := regexp.MustCompile(`(?m)^\s+-[a-z][a-z-]+`) // -flag, not --flag
	for _, c := range [][]string{{"mcsend"}, {"mcrecv"}, {"mcimage"}, {"mcimage", "create"}, {"mcimage", "extract"}, {"mcimage", "verify"}, {"mcimage", "repo", "add"}, {"mcimage", "repo"}, {"mcinitrd"}} {
		code, out := run(t, nil, nil, c[0], append(c[1:], "--help")...)
		if code != 0 {
			t.Errorf("%v --help: exit %d", c, code)
		}
		for i := cli.ExitOK; i <= cli.ExitIO; i++ {
			if !strings.Contains(out, fmt.Sprintf("\n  %d  ", i)) {
				t.Errorf("%v --help: exit code %d not listed:\n%s", c, i, out)
			}
		}
		if m := flagDash.FindString(out); m != "" {
			t.Errorf("%v --help shows a flag as %q, want --flag", c, strings.TrimSpace(m))
		}
		if (c[0] == "mcsend" || c[0] == "mcrecv") && !strings.Contains(out, "\n  --interface ") {
			t.Errorf("%v --help: no --interface line:\n%s", c, out)
		}
	}
	want := fmt.Sprintf("protocol version %d, image format version %d", wire.Version, image.FormatVersion)
	for _, c := range [][]string{{"mcsend", "--version"}, {"mcrecv", "--version"}, {"mcimage", "--version"}, {"mcimage", "version"}, {"mcinitrd", "--version"}} {
		code, out := run(t, nil, nil, c[0], c[1:]...)
		if code != 0 || !strings.HasPrefix(out, c[0]+" ") || !strings.Contains(out, want) {
			t.Errorf("%v: exit %d, output %q; want %q", c, code, out, want)
		}
	}
}

// TestMcimageExitCodes provokes every exit code mcimage documents.
func TestMcimageExitCodes(t *testing.T) {
	dir := t.TempDir()
	raw := diskFile(t, dir, 4<<20, 21)
	img := filepath.Join(dir, "a.dsc")
	cut := filepath.Join(dir, "cut.dsc")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"create", []string{"create", "--raw", raw, img}, cli.ExitOK, "stored"},
		{"extract", []string{"extract", img, filepath.Join(dir, "x.raw")}, cli.ExitOK, "verified"},
		{"bad flag", []string{"create", "--no-such-flag", raw, img}, cli.ExitUsage, "--no-such-flag"},
		{"missing operand", []string{"verify"}, cli.ExitUsage, "want IMAGE"},
		{"corrupt image", []string{"verify", cut}, cli.ExitVerify, "truncated"},
		{"missing source", []string{"create", filepath.Join(dir, "nonexistent"), img + "2"}, cli.ExitIO, "no such file"},
		{"empty source", []string{"create", empty, img + "3"}, cli.ExitIO, "no bytes"},
	}
	for i, c := range cases {
		if i == 4 {
			b, _ := os.ReadFile(img)
			os.WriteFile(cut, b[:len(b)/2], 0o644)
		}
		code, out := run(t, nil, nil, "mcimage", c.args...)
		if code != c.code || !strings.Contains(out, c.says) {
			t.Errorf("mcimage %s (%v): exit %d, want %d, output should say %q:\n%s", c.name, c.args, code, c.code, c.says, out)
		}
		plain(t, "mcimage "+c.name, out)
	}
	// Interrupted: Ctrl-C during a create from a stream that never ends.
	cmd := exec.Command(filepath.Join(bin, "mcimage"), "create", "-", filepath.Join(dir, "int.dsc"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, 64<<10)
		for {
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if _, err := w.Write(b); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	w.Close()
	if code := cmd.ProcessState.ExitCode(); code != cli.ExitFailure || !strings.Contains(out.String(), "interrupted") {
		t.Errorf("mcimage create interrupted: exit %d, want %d saying interrupted:\n%s", code, cli.ExitFailure, out.String())
	}
	plain(t, "mcimage create interrupted", out.String())

	// Target too small: a loop device smaller than the image's data.
	if os.Geteuid() != 0 {
		t.Log("target too small: needs root for losetup; skipped")
		return
	}
	small := filepath.Join(dir, "small.disk")
	os.WriteFile(small, make([]byte, 1<<20), 0o644)
	dev, err := exec.Command("losetup", "-f", "--show", small).Output()
	if err != nil {
		t.Logf("losetup: %v; target too small skipped", err)
		return
	}
	loop := strings.TrimSpace(string(dev))
	defer exec.Command("losetup", "-d", loop).Run()
	code, o := run(t, nil, nil, "mcimage", "extract", img, loop)
	if code != cli.ExitIO || !strings.Contains(o, "too small") {
		t.Errorf("mcimage extract onto a 1 MiB disk: exit %d, want %d saying too small:\n%s", code, cli.ExitIO, o)
	}
	plain(t, "mcimage extract too small", o)
}
