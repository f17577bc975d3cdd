package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/testnet"
)

// TestLoopbackUnshare is case (a): an unprivileged user's private namespace
// (unshare -rn) whose loopback carries multicast, with a sender and three
// receivers.
func TestLoopbackUnshare(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare is not installed")
	}
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("unshare -rn does not work here: %v", err)
		}
		t.Skipf("unshare -rn does not work here: %v", err)
	}
	dir := t.TempDir()
	raw := diskFile(t, dir, 12<<20, 1)
	img := makeImage(t, raw)
	script := `set -e
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
for i in 1 2 3; do "$BIN/mcrecv" --quiet --start-timeout 20 "$DIR/out$i" & done
"$BIN/mcsend" --quiet --min-receivers 3 --start-timeout 20 "$IMG"
for i in 1 2 3; do wait %$i || { echo "receiver $i exited $?"; exit 9; }; done`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "DIR="+dir, "IMG="+img)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := fileHash(t, raw)
	for i := 1; i <= 3; i++ {
		if got := fileHash(t, filepath.Join(dir, fmt.Sprint("out", i))); got != want {
			t.Errorf("receiver %d: xxhash %x, want %x", i, got, want)
		}
	}
}

// bridgeCase is one run of case (b): a bridge joining a sender and four
// receiver namespaces.
type bridgeCase struct {
	loss      float64 // random loss on every receiver's input
	late      bool    // receiver 4 starts 2 s after the others
	slow      bool    // receiver 4 is policed to a tenth of the rate
	sendFlags []string
	mib       int // raw disk size; 0 = 32
}

func TestBridge(t *testing.T) {
	for name, bc := range map[string]bridgeCase{
		"clean":   {},
		"loss2":   {loss: 0.02},
		"late":    {late: true, sendFlags: []string{"--rate", "24m"}},
		"slow":    {slow: true, sendFlags: []string{"--max-bitrate", "40m"}, mib: 8},
		"jumbo9k": {sendFlags: []string{"--mtu", "9000"}},
	} {
		t.Run(name, func(t *testing.T) { runBridge(t, bc) })
	}
}

func runBridge(t *testing.T, bc bridgeCase) {
	mtu := 1500
	for i, f := range bc.sendFlags {
		if f == "--mtu" {
			fmt.Sscan(bc.sendFlags[i+1], &mtu)
		}
	}
	nw := testnet.New(t, 5, testnet.Options{MTU: mtu})
	dir := t.TempDir()
	if bc.mib == 0 {
		bc.mib = 32
	}
	raw := diskFile(t, dir, bc.mib<<20, 2)
	img := makeImage(t, raw)
	if bc.loss > 0 {
		for _, h := range nw.Hosts[1:] {
			h.DropInput(t, bc.loss)
		}
	}
	if bc.slow {
		// The sender's ceiling is 40 Mbit/s: ~3500 packets/s of 1456 bytes.
		nw.Hosts[4].PoliceInput(t, 350)
	}
	net := []string{"--interface", "e0", "--mcast-data-address", "239.255.1.1"}
	recvArgs := func(i int) []string {
		return append([]string{"mcrecv", "--quiet", "--start-timeout", "30", "--receive-timeout", "30",
			"--stats-json", filepath.Join(dir, fmt.Sprint("r", i, ".json"))}, append(net, filepath.Join(dir, fmt.Sprint("out", i)))...)
	}
	var rx []*proc
	for i := 1; i <= 3; i++ {
		rx = append(rx, start(t, nw.Hosts[i], fmt.Sprint("mcrecv", i), recvArgs(i)...))
	}
	if !bc.late {
		rx = append(rx, start(t, nw.Hosts[4], "mcrecv4", recvArgs(4)...))
	}
	minRx := "4"
	if bc.late {
		minRx = "3"
	}
	sargs := append([]string{"mcsend", "--progress", "--min-receivers", minRx, "--start-timeout", "30",
		"--stats-json", filepath.Join(dir, "send.json")}, net...)
	sargs = append(append(sargs, bc.sendFlags...), img)
	began := time.Now()
	snd := start(t, nw.Hosts[0], "mcsend", sargs...)
	if bc.late {
		time.Sleep(2 * time.Second)
		rx = append(rx, start(t, nw.Hosts[4], "mcrecv4 (late)", recvArgs(4)...))
	}
	finished := make([]time.Duration, len(rx))
	for i, p := range rx {
		p.wait(t, 0)
		finished[i] = time.Since(began)
	}
	snd.wait(t, 0)
	t.Logf("sender: %s", snd.lastLine())
	t.Logf("receivers finished after %v", finished)
	want := fileHash(t, raw)
	for i := 1; i <= 4; i++ {
		if got := fileHash(t, filepath.Join(dir, fmt.Sprint("out", i))); got != want {
			t.Errorf("receiver %d: xxhash %x, want %x", i, got, want)
		}
		if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprint("r", i, ".json"))); err != nil || !strings.Contains(string(b), `"exit_code": 0`) {
			t.Errorf("receiver %d: stats JSON missing or not successful: %v", i, err)
		}
	}
}

// TestStreams sends standard input as it is read (the chunk count grows
// until the stream ends) to one receiver writing standard output, one
// writing a file and one keeping the image itself (--image).
func TestStreams(t *testing.T) {
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		t.Skipf("unshare -rn does not work here: %v", err)
	}
	dir := t.TempDir()
	raw := diskFile(t, dir, 10<<20+12345, 8)
	script := `set -e
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
"$BIN/mcrecv" --quiet --start-timeout 20 - > "$DIR/stdout.raw" &
"$BIN/mcrecv" --quiet --start-timeout 20 "$DIR/file.raw" &
"$BIN/mcrecv" --quiet --start-timeout 20 --image "$DIR/kept.dsc" &
cat "$RAW" | "$BIN/mcsend" --quiet --min-receivers 3 --start-timeout 20 -
wait %1 && wait %2 && wait %3
"$BIN/mcimage" verify "$DIR/kept.dsc"
"$BIN/mcimage" extract "$DIR/kept.dsc" "$DIR/kept.raw"`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "DIR="+dir, "RAW="+raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := fileHash(t, raw)
	for _, f := range []string{"stdout.raw", "file.raw", "kept.raw"} {
		if got := fileHash(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s: xxhash %x, want %x", f, got, want)
		}
	}
}
