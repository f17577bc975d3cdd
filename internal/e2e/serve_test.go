package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/testnet"
)

// statusFile is what a test reads of mcsend --status (session.SendStatus): parsed
// from the JSON by name, as a script would.
type statusFile struct {
	Time            string `json:"time"`
	State           string `json:"state"`
	Serve           bool   `json:"serve"`
	ImageID         string `json:"image_id"`
	SenderNodeID    string `json:"sender_node_id"`
	ReceiversJoined int    `json:"receivers_joined"`
	ReceiversDone   int    `json:"receivers_done"`
	Receivers       []struct {
		NodeID        string  `json:"node_id"`
		Address       string  `json:"address"`
		State         string  `json:"state"`
		ChunksDone    int     `json:"chunks_done"`
		ChunksKnown   int     `json:"chunks_known"`
		BytesDoneEst  int64   `json:"bytes_done_est"`
		LossRatio     float64 `json:"loss_ratio"`
		RateBytesPerS float64 `json:"rate_bytes_per_s"`
		FirstHeard    string  `json:"first_heard_at"`
		LastHeard     string  `json:"last_heard_at"`
	} `json:"receivers"`
}

func readStatus(t *testing.T, path string) (statusFile, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return statusFile{}, false
	}
	var s statusFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("status file does not parse (a reader must never see half a file): %v\n%s", err, b)
	}
	return s, true
}

// waitFor polls cond every 100 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestServe: mcsend --serve serves whoever joins: a receiver there before the sender,
// one joining during its transfer and one after both completed all get the image byte
// for byte; the sender ends after --idle-timeout with exit 0; --status lists every
// receiver with its address, state and progress, parsed here while it runs and at the
// end.
func TestServe(t *testing.T) {
	nw := testnet.New(t, 4, testnet.Options{})
	dir := t.TempDir()
	raw := diskFile(t, dir, 24<<20, 21)
	img := makeImage(t, raw)
	want := fileHash(t, raw)
	status := filepath.Join(dir, "status.json")
	recv := func(i int) *proc {
		return start(t, nw.Hosts[i], fmt.Sprintf("mcrecv %d", i), append(append([]string{"mcrecv", "--quiet", "--start-timeout", "60"},
			bridgeNet...), filepath.Join(dir, fmt.Sprintf("out%d", i)))...)
	}
	first := recv(1) // before the sender
	time.Sleep(300 * time.Millisecond)
	// 12 Mbit/s: about 5 s for the image (~7 MB), so the second receiver joins mid-transfer.
	snd := start(t, nw.Hosts[0], "mcsend", append(append([]string{"mcsend", "--quiet", "--serve", "--idle-timeout", "4",
		"--rate", "12m", "--status", status}, bridgeNet...), img)...)
	var during statusFile
	if !waitFor(20*time.Second, func() bool {
		s, ok := readStatus(t, status)
		if ok && len(s.Receivers) > 0 && s.Receivers[0].ChunksDone > 0 && s.Receivers[0].State == "receiving" {
			during = s
			return true
		}
		return false
	}) {
		t.Fatalf("the status file never showed the first receiver receiving; mcsend:\n%s", snd.out.String())
	}
	second := recv(2) // during the first one's transfer
	r0 := during.Receivers[0]
	t.Logf("ASSERT status during the transfer: state %s, receiver %s at %s %s, %d/%d chunks, ~%d bytes, %.0f B/s, first heard %s",
		during.State, r0.NodeID, r0.Address, r0.State, r0.ChunksDone, r0.ChunksKnown, r0.BytesDoneEst, r0.RateBytesPerS, r0.FirstHeard)
	if ap, err := netip.ParseAddrPort(r0.Address); err != nil || ap.Addr() != nw.Hosts[1].Addr {
		t.Errorf("first receiver's address %q, want %v:port", r0.Address, nw.Hosts[1].Addr)
	}
	if len(r0.NodeID) != 16 || !during.Serve || during.State != "sending" {
		t.Errorf("status: node %q, serve %v, state %q", r0.NodeID, during.Serve, during.State)
	}
	if _, err := time.Parse(time.RFC3339, r0.FirstHeard); err != nil {
		t.Errorf("first_heard %q: %v", r0.FirstHeard, err)
	}
	// The status shows both at work at once: the second joined during the first's transfer.
	if !waitFor(20*time.Second, func() bool {
		s, _ := readStatus(t, status)
		return len(s.Receivers) >= 2 && s.Receivers[0].State == "receiving" && s.Receivers[1].State != "done"
	}) {
		s, _ := readStatus(t, status)
		t.Errorf("the status never showed both receivers at work at once: %+v", s.Receivers)
	}
	first.wait(t, 0)
	second.wait(t, 0)
	// Both done; the sender serves on (its idle timeout runs from now).
	time.Sleep(time.Second)
	if isDone(snd) {
		t.Fatalf("mcsend ended %v after the receivers completed, before its 4 s idle timeout:\n%s", time.Second, snd.out.String())
	}
	third := recv(3) // after both completed
	third.wait(t, 0)
	doneAt := time.Now()
	snd.wait(t, 0)
	idle := time.Since(doneAt)
	for i := 1; i <= 3; i++ {
		if h := fileHash(t, filepath.Join(dir, fmt.Sprintf("out%d", i))); h != want {
			t.Errorf("receiver %d: image differs", i)
		}
	}
	end, ok := readStatus(t, status)
	if !ok {
		t.Fatal("no status file at the end")
	}
	t.Logf("ASSERT sender ended %v after the last receiver (idle timeout 4 s); final status: %s, %d joined, %d done; mcsend: %s",
		idle.Round(100*time.Millisecond), end.State, end.ReceiversJoined, end.ReceiversDone, snd.lastLine())
	if end.State != "ended" || end.ReceiversJoined != 3 || end.ReceiversDone != 3 {
		t.Errorf("final status: state %q, %d joined, %d done", end.State, end.ReceiversJoined, end.ReceiversDone)
	}
	addrs := map[string]bool{}
	for _, r := range end.Receivers {
		addrs[strings.Split(r.Address, ":")[0]] = true
		if r.State != "done" || r.ChunksDone != r.ChunksKnown || r.ChunksDone == 0 {
			t.Errorf("receiver %s at %s: %s, %d/%d chunks", r.NodeID, r.Address, r.State, r.ChunksDone, r.ChunksKnown)
		}
	}
	for i := 1; i <= 3; i++ {
		if !addrs[nw.Hosts[i].Addr.String()] {
			t.Errorf("no receiver at %v in the status: %v", nw.Hosts[i].Addr, addrs)
		}
	}
	if idle < 3*time.Second || idle > 15*time.Second {
		t.Errorf("sender ended %v after the last receiver, want about the 4 s idle timeout", idle)
	}
}

func isDone(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// TestSenderGivesUp: a sender that stops tells its receivers (docs/PROTOCOL.md §1.9),
// which end within seconds instead of waiting out their 60 s default receive
// timeout: Ctrl-C (SIGINT) mid-transfer ends them with 5, and so does a sender that
// vanished without a word (SIGKILL) once the receive timeout passes.
func TestSenderGivesUp(t *testing.T) {
	for _, c := range []struct {
		name    string
		sig     syscall.Signal
		keyed   bool
		recvArg []string // extra mcrecv flags
		within  time.Duration
	}{
		{"interrupted", syscall.SIGINT, false, nil, 10 * time.Second},
		{"interrupted-keyed", syscall.SIGINT, true, nil, 10 * time.Second}, // believed at once
		{"vanished", syscall.SIGKILL, false, []string{"--receive-timeout", "3"}, 15 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			nw := testnet.New(t, 3, testnet.Options{})
			dir := t.TempDir()
			img := makeImage(t, diskFile(t, dir, 24<<20, 22))
			var keyArg []string
			if c.keyed {
				kf := filepath.Join(dir, "lab.key")
				if err := os.WriteFile(kf, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
					t.Fatal(err)
				}
				keyArg = []string{"--key", kf}
			}
			var rx []*proc
			for i := 1; i <= 2; i++ {
				args := append(append([]string{"mcrecv", "--quiet", "--start-timeout", "60"}, c.recvArg...), keyArg...)
				rx = append(rx, start(t, nw.Hosts[i], fmt.Sprintf("mcrecv %d", i), append(append(args, bridgeNet...), filepath.Join(dir, fmt.Sprintf("out%d", i)))...))
			}
			snd := start(t, nw.Hosts[0], "mcsend", append(append(append([]string{"mcsend", "--quiet", "--min-receivers", "2", "--rate", "8m"}, keyArg...), bridgeNet...), img)...)
			time.Sleep(2 * time.Second) // mid-transfer: the image (~7 MB) at 8 Mbit/s takes about 7 s
			if isDone(snd) {
				t.Fatalf("mcsend ended early:\n%s", snd.out.String())
			}
			stopAt := time.Now()
			if err := snd.cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			for i, r := range rx {
				r.wait(t, cli.ExitLost)
				t.Logf("ASSERT receiver %d ended %v after the sender's %v with %d: %s", i+1,
					time.Since(stopAt).Round(100*time.Millisecond), c.sig, r.code, r.lastLine())
			}
			if d := time.Since(stopAt); d > c.within {
				t.Errorf("receivers ended %v after the sender stopped, want within %v", d, c.within)
			}
			<-snd.done
		})
	}
}
