package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func loopDev(t *testing.T, path string, off, size int64) string {
	t.Helper()
	args := []string{"--find", "--show"}
	if size > 0 {
		args = append(args, "--offset", strconv.FormatInt(off, 10), "--sizelimit", strconv.FormatInt(size, 10))
	}
	dev := strings.TrimSpace(sh(t, nil, "losetup", append(args, path)...))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func sparseFile(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	sh(t, nil, "truncate", "-s", strconv.FormatInt(size, 10), p)
	return p
}

// The image of gapDisk (200 MiB, ext4 in 1..41 MiB) installed onto loop
// devices of other sizes: a larger one gets a GPT sgdisk -v calls clean,
// and with --grow an ext4 that fills it (e2fsck -fn, df); a smaller one
// that holds the partition is accepted, one that does not is refused
// before anything is written, with exit 7.
func TestExtractOtherSizes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	needTools(t, "sgdisk", "mkfs.ext4", "e2fsck", "resize2fs", "losetup", "debugfs")
	dir := t.TempDir()
	disk, _ := gapDisk(t, dir)
	img := filepath.Join(dir, "disk.img")
	mustRun(t, 0, "create", "--quiet", disk, img)

	big := loopDev(t, sparseFile(t, dir, "big", 300*mib), 0, 0)
	mustRun(t, 0, "extract", img, big)
	sgdiskOK(t, big)
	mustRun(t, 0, "extract", "--grow", img, big)
	sgdiskOK(t, big)
	out := sh(t, nil, "sgdisk", "-i", "1", big)
	if !strings.Contains(out, "Last sector: 612351") {
		t.Fatalf("partition 1 not grown to the last whole MiB:\n%s", out)
	}
	part := loopDev(t, filepath.Join(dir, "big"), 1*mib, 298*mib)
	sh(t, nil, "e2fsck", "-fn", part)
	mnt := t.TempDir()
	sh(t, nil, "mount", "-o", "ro", part, mnt)
	df := sh(t, nil, "df", "-B1M", "--output=size", mnt)
	exec.Command("umount", mnt).Run()
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.Split(strings.TrimSpace(df), "\n")[1])); n < 250 {
		t.Fatalf("ext4 after --grow: %d MiB", n)
	}

	// 50 MiB hold the 40 MiB partition (and a new backup GPT).
	small := loopDev(t, sparseFile(t, dir, "small", 50*mib), 0, 0)
	mustRun(t, 0, "extract", img, small)
	sgdiskOK(t, small)
	sh(t, nil, "e2fsck", "-fn", loopDev(t, filepath.Join(dir, "small"), 1*mib, 40*mib))

	// 30 MiB cut the partition, but its used blocks fit: it and its ext4
	// shrink to 28 MiB.
	shrunk := loopDev(t, sparseFile(t, dir, "shrunk", 30*mib), 0, 0)
	mustRun(t, 0, "extract", img, shrunk)
	sgdiskOK(t, shrunk)
	sh(t, nil, "e2fsck", "-fn", loopDev(t, filepath.Join(dir, "shrunk"), 1*mib, 28*mib))

	// 12 MiB do not hold them: refused, naming the partition, before
	// anything is written.
	tiny := loopDev(t, sparseFile(t, dir, "tiny", 12*mib), 0, 0)
	code, _ := capture(t, "extract", img, tiny)
	if code != 7 {
		t.Fatalf("extract onto a 12 MiB disk: exit %d, want 7", code)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tiny")); strings.Trim(string(b[:4096]), "\x00") != "" {
		t.Fatalf("the refused target was written")
	}
}

func sgdiskOK(t *testing.T, dev string) {
	t.Helper()
	out, err := exec.Command("sgdisk", "-v", dev).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") || strings.Contains(string(out), "Caution") {
		t.Fatalf("sgdisk -v %s: %v\n%s", dev, err, out)
	}
}
