package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/internal/cli"
)

// repoWithCopy builds a repository holding a real ext4 base and a copy
// localized with debugfs, with the mcimage commands a user would type.
func repoWithCopy(t *testing.T, dir string) (repo, local string) {
	t.Helper()
	for _, tool := range []string{"mkfs.ext4", "debugfs", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (e2fsprogs)", tool)
		}
	}
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	raw, _ := os.ReadFile(diskFile(t, dir, 6<<20, 21))
	os.WriteFile(filepath.Join(tree, "data"), raw, 0o644)
	os.WriteFile(filepath.Join(tree, "etc", "hostname"), []byte("base\n"), 0o644)
	base := filepath.Join(dir, "base.ext4")
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("mkfs.ext4", "-q", "-F", "-d", tree, base, "24M")
	local = filepath.Join(dir, "local.ext4")
	b, _ := os.ReadFile(base)
	os.WriteFile(local, b, 0o644)
	os.WriteFile(filepath.Join(dir, "hostname"), []byte("pc-7\n"), 0o644)
	cmd := exec.Command("debugfs", "-w", "-f", "-", local)
	cmd.Stdin = bytes.NewBufferString(fmt.Sprintf("rm /etc/hostname\nwrite %s /etc/hostname\n", filepath.Join(dir, "hostname")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	repo = filepath.Join(dir, "repo")
	mc := filepath.Join(bin, "mcimage")
	run(mc, "repo", "init", repo)
	run(mc, "repo", "add", "--quiet", repo, "base", base)
	run(mc, "repo", "add", "--quiet", repo, "pc-7", local, "--base", "base")
	return repo, local
}

// mcsend serves an image straight from a repository: two receivers end
// with the same disk that export + extract gives, e2fsck-clean.
func TestRepoSend(t *testing.T) {
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		t.Skipf("unshare -rn does not work here: %v", err)
	}
	dir := t.TempDir()
	repo, _ := repoWithCopy(t, dir)
	mc := filepath.Join(bin, "mcimage")
	img := filepath.Join(dir, "pc-7.dsc")
	want := filepath.Join(dir, "want")
	for _, args := range [][]string{{"repo", "export", "--quiet", repo, "pc-7", img}, {"extract", img, want}} {
		if out, err := exec.Command(mc, args...).CombinedOutput(); err != nil {
			t.Fatalf("mcimage %v: %v\n%s", args, err, out)
		}
	}
	script := `set -e
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
for i in 1 2; do "$BIN/mcrecv" --quiet --start-timeout 20 "$DIR/out$i" & done
"$BIN/mcsend" --quiet --min-receivers 2 --start-timeout 20 "repo:$REPO/pc-7"
for i in 1 2; do wait %$i || { echo "receiver $i exited $?"; exit 9; }; done`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "DIR="+dir, "REPO="+repo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i := 1; i <= 2; i++ {
		got := filepath.Join(dir, fmt.Sprint("out", i))
		if fileHash(t, got) != fileHash(t, want) {
			t.Errorf("receiver %d: not the exported disk", i)
		}
		if out, err := exec.Command("e2fsck", "-fn", got).CombinedOutput(); err != nil {
			t.Errorf("receiver %d: e2fsck: %v\n%s", i, err, out)
		}
	}
}

// A damaged block in the repository fails export and repo verify (exit 6);
// no image file is left behind.
func TestRepoCorrupt(t *testing.T) {
	dir := t.TempDir()
	repo, _ := repoWithCopy(t, dir)
	packs, _ := filepath.Glob(filepath.Join(repo, "packs", "*.pack"))
	b, _ := os.ReadFile(packs[0])
	b[len(b)/3] ^= 0x10
	os.WriteFile(packs[0], b, 0o644)
	img := filepath.Join(dir, "x.dsc")
	out, err := exec.Command(filepath.Join(bin, "mcimage"), "repo", "export", repo, "pc-7", img).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitVerify {
		t.Fatalf("export of a damaged repository: %v, want exit %d\n%s", err, cli.ExitVerify, out)
	}
	if _, err := os.Stat(img); err == nil {
		t.Error("a failed export left its image file")
	}
	out, err = exec.Command(filepath.Join(bin, "mcimage"), "repo", "verify", repo).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitVerify {
		t.Fatalf("repo verify: %v\n%s", err, out)
	}
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		t.Skipf("unshare -rn does not work here: %v", err)
	}
	// mcsend stops with exit 6 rather than send a wrong block; the
	// receiver never reports success.
	script := `ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
"$BIN/mcrecv" --quiet --start-timeout 5 --receive-timeout 5 "$DIR/out" & rx=$!
"$BIN/mcsend" --quiet --min-receivers 1 --start-timeout 20 "repo:$REPO/pc-7"; s=$?
wait $rx; r=$?
echo "send=$s recv=$r"`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "DIR="+dir, "REPO="+repo)
	out, _ = cmd.CombinedOutput()
	if !bytes.Contains(out, []byte(fmt.Sprintf("send=%d recv=", cli.ExitVerify))) || bytes.Contains(out, []byte("recv=0")) {
		t.Fatalf("mcsend from a damaged repository:\n%s", out)
	}
}

// A machine that holds the base receives a localized copy served from the
// repository (mcsend repo:) and, through resume (the image's block map,
// sent before the chunks), takes only the chunks it lacks and writes only
// the blocks that differ.
func TestRepoSendToBaseHolder(t *testing.T) {
	if err := exec.Command("unshare", "-rn", "true").Run(); err != nil {
		t.Skipf("unshare -rn does not work here: %v", err)
	}
	dir := t.TempDir()
	repo, _ := repoWithCopy(t, dir)
	mc := filepath.Join(bin, "mcimage")
	img, want := filepath.Join(dir, "pc-7.dsc"), filepath.Join(dir, "want")
	for _, args := range [][]string{{"repo", "export", "--quiet", "--chunk-size", "256k", repo, "pc-7", img}, {"extract", img, want}} {
		if out, err := exec.Command(mc, args...).CombinedOutput(); err != nil {
			t.Fatalf("mcimage %v: %v\n%s", args, err, out)
		}
	}
	base, _ := os.ReadFile(filepath.Join(dir, "base.ext4"))
	target := filepath.Join(dir, "target")
	os.WriteFile(target, base, 0o644)
	script := `set -e
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
"$BIN/mcrecv" --quiet --start-timeout 20 --stats-json "$DIR/recv.json" "$DIR/target" & rx=$!
"$BIN/mcsend" --quiet --min-receivers 1 --start-timeout 20 --chunk-size 256k --stats-json "$DIR/send.json" "$SRC"
wait $rx`
	cmd := exec.Command("unshare", "-rn", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "DIR="+dir, "REPO="+repo, "SRC=repo:"+repo+"/pc-7")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fileHash(t, target) != fileHash(t, want) {
		t.Fatal("the base holder's disk is not the exported copy")
	}
	if out, err := exec.Command("e2fsck", "-fn", target).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
	var st cli.RecvStatsFile
	b, _ := os.ReadFile(filepath.Join(dir, "recv.json"))
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(img)
	t.Logf("image %d bytes, %d chunks: held %d (%d bytes) on the target, received %d bytes, wrote %d bytes",
		fi.Size(), st.Install.TotalChunks, st.Resume.HeldChunks, st.Resume.HeldBytes, st.ImageBytes, st.Install.WrittenBytes)
	if st.Resume.HeldChunks == 0 || st.Install.WrittenBytes > 1<<20 || st.ImageBytes >= fi.Size() {
		t.Errorf("a base holder held %d chunks and wrote %d bytes for a changed hostname", st.Resume.HeldChunks, st.Install.WrittenBytes)
	}
}
