package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/testnet"
)

// lackedEncoded is what a target holding got lacks of the image, in encoded bytes:
// each chunk's encoded length times the share of its used bytes in blocks got does
// not hold, and the lacked used bytes.
func lackedEncoded(t *testing.T, imgPath string, got []byte) (enc, used int64) {
	t.Helper()
	r, err := image.OpenFile(imgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bm := r.BlockMap()
	match, _, err := image.HashTarget(context.Background(), bytes.NewReader(got), bm, 0)
	if err != nil {
		t.Fatal(err)
	}
	bs := int64(bm.BlockSize())
	held := map[int64]bool{}
	for i, ok := range match {
		if ok {
			held[bm.Block(i)] = true
		}
	}
	for c := range r.NumChunks() {
		_, n := r.ChunkOffset(c)
		var all, lack int64
		for _, rg := range bm.ChunkRanges(nil, c) {
			for off := rg.Off; off < rg.End(); {
				end := min(rg.End(), (off/bs+1)*bs)
				all += end - off
				if !held[off/bs] {
					lack += end - off
				}
				off = end
			}
		}
		if all > 0 {
			enc += int64(float64(n) * float64(lack) / float64(all))
		}
		used += lack
	}
	return enc, used
}

// recvStats is what the tests read of mcrecv --stats-json.
type recvStats struct {
	Receiver struct {
		Bytes      int64 `json:"delivered_bytes"`
		Blocks     int64 `json:"new_blocks"`
		DupBlocks  int64 `json:"duplicate_blocks"`
		ChunksHeld int   `json:"chunks_held"`
	} `json:"receiver"`
	Install struct {
		WriteBytes int64 `json:"written_bytes"`
		SkipBytes  int64 `json:"skipped_bytes"`
		HeldBytes  int64 `json:"held_bytes"`
	} `json:"install"`
	Resume struct {
		Hashed        bool `json:"hashed"`
		HeldChunks    int  `json:"held_chunks"`
		BlocksHashed  int  `json:"blocks_hashed"`
		BlocksMatched int  `json:"blocks_matched"`
	} `json:"resume"`
	Image struct {
		StoredBytes int64 `json:"stored_bytes"`
		DataBytes   int64 `json:"data_bytes"`
		BlockSize   int   `json:"block_map_block_bytes"`
	} `json:"image"`
}

func readRecvStats(t *testing.T, path string) recvStats {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s recvStats
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// matchShare is the share of 64 KiB windows of a that b already holds.
func matchShare(a, b []byte) float64 {
	n, same := 0, 0
	for off := 0; off < len(a); off += 64 << 10 {
		end := min(off+64<<10, len(a))
		n++
		if end <= len(b) && string(a[off:end]) == string(b[off:end]) {
			same++
		}
	}
	return float64(same) / float64(n)
}

// TestResumeAfterKill: a receiver killed with SIGKILL half way and started again on
// the same target finds what it wrote by hashing the target, receives only the rest
// (at most 10 % of the image beyond what it lacked), writes only what it lacked,
// and mcsend, which sees the restart as the same receiver, exits 0.
func TestResumeAfterKill(t *testing.T) {
	nw := testnet.New(t, 3, testnet.Options{})
	dir := t.TempDir()
	raw := diskFile(t, dir, 48<<20, 11)
	img := filepath.Join(dir, "disk.dsc")
	if out, err := exec.Command(filepath.Join(bin, "mcimage"), "create", "--raw", "--chunk-size", "256k", raw, img).CombinedOutput(); err != nil {
		t.Fatalf("mcimage create: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(raw)
	net := []string{"--interface", "e0", "--mcast-data-address", "239.255.1.3"}
	recv := func(i int, name string, extra ...string) *proc {
		args := append([]string{"mcrecv"}, extra...)
		args = append(args, "--quiet", "--start-timeout", "30", "--receive-timeout", "30", "--stats-json", filepath.Join(dir, name+".json"))
		args = append(append(args, net...), filepath.Join(dir, "out"+string(rune('0'+i))))
		return start(t, nw.Hosts[i], name, args...)
	}
	r1 := recv(1, "r1")
	r2 := recv(2, "r2-killed")
	snd := start(t, nw.Hosts[0], "mcsend", append([]string{"mcsend", "--quiet", "--min-receivers", "2", "--start-timeout", "30",
		"--receiver-timeout", "30", "--rate", "60m", "--stats-json", filepath.Join(dir, "send.json")}, append(net, img)...)...)
	out2 := filepath.Join(dir, "out2")
	deadline := time.Now().Add(60 * time.Second)
	share := 0.0
	for share < 0.5 {
		if time.Now().After(deadline) {
			t.Fatalf("receiver 2 never got half way (%.0f %%):\n%s\nsender:\n%s", 100*share, r2.out.String(), snd.out.String())
		}
		time.Sleep(20 * time.Millisecond)
		got, _ := os.ReadFile(out2)
		share = matchShare(want, got)
	}
	if err := r2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r2.done
	got, _ := os.ReadFile(out2)
	atKill := matchShare(want, got)
	// Started again once the other receiver is done: a receiver that joins while the
	// sender still streams for another can stall with its partial table full of chunks
	// that wait for the manifest (seen 2 in 4 runs even with resume off and without a
	// block map: a protocol-core issue of late joiners, reported, not this test's).
	r1.wait(t, 0)
	r2b := recv(2, "r2", "-v")
	select {
	case <-r2b.done:
	case <-time.After(15 * time.Second):
		if os.Getenv("DISCUS_DUMP") != "" {
			r2b.cmd.Process.Signal(syscall.SIGQUIT)
		}
	}
	<-r2b.done
	if r2b.code != 0 {
		lines := strings.Split(r2b.out.String(), "\n")
		var keep []string
		for _, l := range lines {
			if !strings.Contains(l, "mcast: request") {
				keep = append(keep, l)
			}
		}
		t.Logf("restarted receiver's log (without requests):\n%s", strings.Join(keep[max(0, len(keep)-80):], "\n"))
	}
	r2b.wait(t, 0)
	snd.wait(t, 0)
	for i := 1; i <= 2; i++ {
		if got, _ := os.ReadFile(filepath.Join(dir, "out"+string(rune('0'+i)))); string(got) != string(want) {
			t.Errorf("receiver %d: target differs from the disk", i)
		}
	}
	s1, s2 := readRecvStats(t, filepath.Join(dir, "r1.json")), readRecvStats(t, filepath.Join(dir, "r2.json"))
	used := s2.Image.DataBytes
	lackedEnc, lacked := lackedEncoded(t, img, got)
	t.Logf("image %d bytes stored, %d used; killed at %.0f %% of the target right", s2.Image.StoredBytes, used, 100*atKill)
	t.Logf("receiver 1: received %d chunk bytes, wrote %d bytes", s1.Receiver.Bytes, s1.Install.WriteBytes)
	t.Logf("receiver 2 restarted: hashed %v, %d/%d blocks held, %d chunks held; lacked ~%d used bytes (~%d encoded); received %d chunk bytes (%d blocks, %d duplicate); wrote %d bytes, skipped %d",
		s2.Resume.Hashed, s2.Resume.BlocksMatched, s2.Resume.BlocksHashed, s2.Resume.HeldChunks, lacked, lackedEnc,
		s2.Receiver.Bytes, s2.Receiver.Blocks, s2.Receiver.DupBlocks, s2.Install.WriteBytes, s2.Install.SkipBytes)
	if !s2.Resume.Hashed || s2.Resume.HeldChunks == 0 {
		t.Fatal("the restarted receiver did not find what it held")
	}
	if over := s2.Receiver.Bytes - lackedEnc; float64(over) > 0.10*float64(s2.Image.StoredBytes) {
		t.Errorf("re-received %d bytes beyond what it lacked: more than 10 %% of the image", over)
	}
	if float64(s2.Install.WriteBytes) > 1.1*float64(lacked)+float64(s2.Image.BlockSize) {
		t.Errorf("wrote %d bytes for %d lacked", s2.Install.WriteBytes, lacked)
	}
}
