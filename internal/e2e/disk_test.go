package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReceiveOntoOtherDisks sends the image of a 64 MiB GPT disk (an ext4
// of 40 MiB holding files) to two receivers whose disks are loop devices
// of other sizes, all with --grow: 160 MiB, 48 MiB (smaller than the
// image's disk, but its partition fits: grown to 46 MiB), 30 MiB (the
// partition and its ext4 must shrink to 28 MiB) and 12 MiB (its used
// blocks do not fit: exit 7). The first three must get a GPT sgdisk -v
// calls clean and an ext4 e2fsck -fn calls clean; the largest fills its
// disk (df).
func TestReceiveOntoOtherDisks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop devices")
	}
	for _, tool := range []string{"unshare", "losetup", "sgdisk", "mkfs.ext4", "e2fsck", "resize2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	const mib = 1 << 20
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	for i := range 20 {
		os.WriteFile(filepath.Join(tree, fmt.Sprint("f", i)), []byte(strings.Repeat(fmt.Sprint(i, " lab files "), 10000)), 0o644)
	}
	fsFile := filepath.Join(dir, "root.fs")
	run("truncate", "-s", "40M", fsFile)
	run("mkfs.ext4", "-q", "-F", "-d", tree, fsFile)
	disk := filepath.Join(dir, "disk.raw")
	run("truncate", "-s", "64M", disk)
	run("sgdisk", "--zap-all", "--new=1:2048:+40M", "--typecode=1:8300", disk)
	run("dd", "if="+fsFile, "of="+disk, "bs=1M", "seek=1", "conv=notrunc", "status=none")
	img := filepath.Join(dir, "disk.dsc")
	run(filepath.Join(bin, "mcimage"), "create", "--quiet", disk, img)

	loop := func(path string, off, size int64) string {
		t.Helper()
		args := []string{"--find", "--show"}
		if size > 0 {
			args = append(args, "--offset", strconv.FormatInt(off, 10), "--sizelimit", strconv.FormatInt(size, 10))
		}
		dev := strings.TrimSpace(run("losetup", append(args, path)...))
		t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
		return dev
	}
	bigFile, smallFile := filepath.Join(dir, "big"), filepath.Join(dir, "small")
	shrunkFile, tinyFile := filepath.Join(dir, "shrunk"), filepath.Join(dir, "tiny")
	run("truncate", "-s", "160M", bigFile)
	run("truncate", "-s", "48M", smallFile)
	run("truncate", "-s", "30M", shrunkFile)
	run("truncate", "-s", "12M", tinyFile)
	big, small := loop(bigFile, 0, 0), loop(smallFile, 0, 0)
	shrunk, tiny := loop(shrunkFile, 0, 0), loop(tinyFile, 0, 0)

	script := `set -e
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
"$BIN/mcrecv" --quiet --start-timeout 20 --grow "$BIG" & a=$!
"$BIN/mcrecv" --quiet --start-timeout 20 --grow "$SMALL" & b=$!
"$BIN/mcrecv" --quiet --start-timeout 20 --grow "$SHRUNK" & c=$!
"$BIN/mcrecv" --quiet --start-timeout 20 --grow "$TINY" & d=$!
"$BIN/mcsend" --quiet --min-receivers 4 --start-timeout 20 "$IMG"
wait $a || { echo "receiver 1 exited $?"; exit 9; }
wait $b || { echo "receiver 2 exited $?"; exit 9; }
wait $c || { echo "receiver 3 exited $?"; exit 9; }
rc=0; wait $d || rc=$?
[ $rc = 7 ] || { echo "receiver 4 (12 MiB) exited $rc, want 7"; exit 9; }`
	cmd := exec.Command("unshare", "-n", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "IMG="+img, "BIG="+big, "SMALL="+small, "SHRUNK="+shrunk, "TINY="+tiny)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", out)
	for _, dev := range []string{big, small, shrunk} {
		if out := run("sgdisk", "-v", dev); !strings.Contains(out, "No problems found") || strings.Contains(out, "Caution") {
			t.Fatalf("sgdisk -v %s:\n%s", dev, out)
		}
	}
	bigPart := loop(bigFile, 1*mib, 158*mib)
	run("e2fsck", "-fn", bigPart)
	run("e2fsck", "-fn", loop(smallFile, 1*mib, 46*mib))
	run("e2fsck", "-fn", loop(shrunkFile, 1*mib, 28*mib))
	if !strings.Contains(string(out), "partition 1 (bytes") && !strings.Contains(string(out), "partition 1 holds data") {
		t.Errorf("the 12 MiB receiver's refusal does not name the partition:\n%s", out)
	}
	mnt := t.TempDir()
	run("mount", "-o", "ro", bigPart, mnt)
	df := run("df", "-B1M", "--output=size", mnt)
	b, rerr := os.ReadFile(filepath.Join(mnt, "f7"))
	exec.Command("umount", mnt).Run()
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.Split(strings.TrimSpace(df), "\n")[1])); n < 140 {
		t.Fatalf("grown ext4: %d MiB", n)
	}
	if rerr != nil || string(b) != strings.Repeat("7 lab files ", 10000) {
		t.Fatalf("file after growing: %v", rerr)
	}
}
