package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/testnet"
)

var bridgeNet = []string{"--interface", "e0", "--mcast-data-address", "239.255.1.2"}

// TestTargetTooSmall: a disk smaller than the image is refused before the
// first write, with the I/O exit code, and keeps its bytes.
func TestTargetTooSmall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	nw := testnet.New(t, 2, testnet.Options{})
	dir := t.TempDir()
	img := makeImage(t, diskFile(t, dir, 8<<20, 3))
	small := filepath.Join(dir, "small.disk")
	pattern := bytes.Repeat([]byte("keep me "), (1<<20)/8)
	if err := os.WriteFile(small, pattern, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", small).Output()
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })

	rx := start(t, nw.Hosts[1], "mcrecv", append(append([]string{"mcrecv", "--quiet", "--start-timeout", "20"}, bridgeNet...), dev)...)
	// The receiver refuses at the first announce, before it ever says hello.
	snd := start(t, nw.Hosts[0], "mcsend", append(append([]string{"mcsend", "--quiet", "--start-timeout", "4"},
		bridgeNet...), img)...)
	rx.wait(t, cli.ExitIO)
	if !strings.Contains(rx.out.String(), "too small") {
		t.Errorf("mcrecv's error does not say the target is too small:\n%s", rx.out.String())
	}
	snd.wait(t, cli.ExitStart)
	_ = exec.Command("losetup", "-d", dev).Run()
	if got, _ := os.ReadFile(small); !bytes.Equal(got, pattern) {
		t.Error("the too-small disk was written to")
	}
}

// TestUnwritableTarget fails before joining, with the I/O exit code.
func TestUnwritableTarget(t *testing.T) {
	cmd := exec.Command(filepath.Join(bin, "mcrecv"), "--start-timeout", "1", "/nonexistent/dir/disk")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != cli.ExitIO {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, cli.ExitIO, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// TestCorruptImage: a damaged chunk stops mcsend with the verification
// exit code instead of feeding receivers bad data; the sender's abort
// (docs/PROTOCOL.md §1.9) ends the receiver with the same code within a few
// seconds, long before its 60 s receive timeout, and it reports no success.
func TestCorruptImage(t *testing.T) {
	nw := testnet.New(t, 2, testnet.Options{})
	dir := t.TempDir()
	img := makeImage(t, diskFile(t, dir, 8<<20, 4))
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+64; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "out")
	rx := start(t, nw.Hosts[1], "mcrecv", append(append([]string{"mcrecv", "--quiet", "--start-timeout", "20"},
		bridgeNet...), target)...)
	snd := start(t, nw.Hosts[0], "mcsend", append(append([]string{"mcsend", "--quiet", "--start-timeout", "20"}, bridgeNet...), img)...)
	snd.wait(t, cli.ExitVerify)
	stopped := time.Now()
	rx.wait(t, cli.ExitVerify)
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("receiver ended %v after the sender, want within a few seconds", d)
	}
	t.Logf("ASSERT receiver ended %v after mcsend (exit %d): %s; mcsend: %s", time.Since(stopped).Round(100*time.Millisecond),
		rx.code, rx.lastLine(), snd.lastLine())
}

// TestSecondSender: another sender with another image on the same group
// neither disturbs the running session nor finds receivers of its own.
func TestSecondSender(t *testing.T) {
	nw := testnet.New(t, 4, testnet.Options{})
	dir := t.TempDir()
	rawA := diskFile(t, dir, 24<<20, 5)
	imgA := makeImage(t, rawA)
	imgB := makeImage(t, diskFile(t, dir, 4<<20, 6))
	var rx []*proc
	for i := 1; i <= 2; i++ {
		rx = append(rx, start(t, nw.Hosts[i], "mcrecv", append(append([]string{"mcrecv", "--quiet", "--start-timeout", "20"},
			bridgeNet...), filepath.Join(dir, "out"+string(rune('0'+i))))...))
	}
	sndA := start(t, nw.Hosts[0], "mcsend A", append(append([]string{"mcsend", "--quiet", "--min-receivers", "2",
		"--rate", "40m", "--start-timeout", "20"}, bridgeNet...), imgA)...)
	time.Sleep(time.Second)
	sndB := start(t, nw.Hosts[3], "mcsend B", append(append([]string{"mcsend", "--min-receivers", "1",
		"--start-timeout", "3"}, bridgeNet...), imgB)...)
	sndB.wait(t, cli.ExitStart)
	for _, p := range rx {
		p.wait(t, 0)
	}
	sndA.wait(t, 0)
	want := fileHash(t, rawA)
	for i := 1; i <= 2; i++ {
		if got := fileHash(t, filepath.Join(dir, "out"+string(rune('0'+i)))); got != want {
			t.Errorf("receiver %d: xxhash %x, want %x", i, got, want)
		}
	}
	t.Logf("second sender said: %s", strings.TrimSpace(sndB.out.String()))
}
