package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/internal/cli"
)

// mcsend --base BASE.dsc INC.dsc serves an increment on its base; a receiver
// holding the base takes about the increment and ends with the disk mcimage
// extract --base makes.
func TestIncrementalSendToBaseHolder(t *testing.T) {
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		t.Skipf("unshare -rn does not work here: %v", err)
	}
	dir := t.TempDir()
	_, local := repoWithCopy(t, dir)
	basefs := filepath.Join(dir, "base.ext4")
	mc := filepath.Join(bin, "mcimage")
	base, inc, want := filepath.Join(dir, "base.dsc"), filepath.Join(dir, "inc.dsc"), filepath.Join(dir, "want")
	for _, args := range [][]string{
		{"create", "--quiet", "--chunk-size", "256k", basefs, base},
		{"create", "--quiet", "--chunk-size", "256k", "--base", base, local, inc},
		{"extract", "--base", base, inc, want},
	} {
		if out, err := exec.Command(mc, args...).CombinedOutput(); err != nil {
			t.Fatalf("mcimage %v: %v\n%s", args, err, out)
		}
	}
	b, _ := os.ReadFile(basefs)
	target := filepath.Join(dir, "target")
	os.WriteFile(target, b, 0o644)
	script := `set -e
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
"$BIN/mcrecv" --quiet --start-timeout 20 --stats-json "$DIR/recv.json" "$DIR/target" & rx=$!
"$BIN/mcsend" --quiet --min-receivers 1 --start-timeout 20 --chunk-size 256k --base "$DIR/base.dsc" "$DIR/inc.dsc"
wait $rx`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fileHash(t, target) != fileHash(t, want) {
		t.Fatal("the base holder's disk is not what extract --base rebuilds")
	}
	if out, err := exec.Command("e2fsck", "-fn", target).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
	var st cli.RecvStatsFile
	sb, _ := os.ReadFile(filepath.Join(dir, "recv.json"))
	if err := json.Unmarshal(sb, &st); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(inc)
	t.Logf("increment %d bytes; session image %d chunks: held %d on the target, received %d bytes, wrote %d bytes",
		fi.Size(), st.Install.TotalChunks, st.Resume.HeldChunks, st.ImageBytes, st.Install.WrittenBytes)
	if st.Resume.HeldChunks == 0 || st.Install.WrittenBytes > 1<<20 {
		t.Errorf("a base holder held %d chunks and wrote %d bytes for a changed hostname", st.Resume.HeldChunks, st.Install.WrittenBytes)
	}
	// The session carries the increment's chunks and reference chunks for the other
	// blocks (docs/PROTOCOL.md §3.9): a base holder needs none of the latter.
	if st.ImageBytes > fi.Size() {
		t.Errorf("a base holder received %d chunk bytes for an increment of %d bytes", st.ImageBytes, fi.Size())
	}
}
