package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gapDisk builds a GPT disk on random bytes (a used disk's old data) with
// an ext4 partition of 40 MiB and 150 MiB of unallocated space after it,
// the case of issue 13: space no partition owns is free and not imaged.
func gapDisk(t *testing.T, dir string) (disk, tree string) {
	t.Helper()
	tree = filepath.Join(dir, "files", "tree")
	fileTree(t, tree, 4*mib, 3)
	fsFile := filepath.Join(dir, "root.fs")
	randomFile(t, fsFile, 40*mib, 7)
	sh(t, nil, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", filepath.Dir(tree), fsFile)
	disk = filepath.Join(dir, "disk.raw")
	randomFile(t, disk, 200*mib, 8)
	sh(t, nil, "sgdisk", "--zap-all", "--new=1:2048:+40M", "--typecode=1:8300", disk)
	b, err := os.ReadFile(fsFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 1*mib); err != nil {
		t.Fatal(err)
	}
	return disk, tree
}

func TestCreateSkipsGaps(t *testing.T) {
	needTools(t, "sgdisk", "mkfs.ext4", "e2fsck", "debugfs")
	dir := t.TempDir()
	disk, _ := gapDisk(t, dir)
	skip, keep := filepath.Join(dir, "skip.img"), filepath.Join(dir, "keep.img")
	mustRun(t, 0, "create", "--quiet", disk, skip)
	mustRun(t, 0, "create", "--quiet", "--keep-gaps", disk, keep)
	ss, _ := os.Stat(skip)
	ks, _ := os.Stat(keep)
	t.Logf("image of a 200 MiB disk with 40 MiB of ext4: %d bytes, %d with --keep-gaps", ss.Size(), ks.Size())
	// The gaps are 159 MiB of random bytes: keeping them costs as much.
	if ks.Size()-ss.Size() < 150*mib {
		t.Fatalf("gaps not skipped: %d vs %d bytes", ss.Size(), ks.Size())
	}
	out := mustRun(t, 0, "info", skip)
	if !strings.Contains(out, "skipped as free space") {
		t.Fatalf("info does not say the gaps were skipped:\n%s", out)
	}
	if out := mustRun(t, 0, "info", keep); !strings.Contains(out, "held (made with --keep-gaps)") {
		t.Fatalf("info of a --keep-gaps image:\n%s", out)
	}
	// What is left makes a disk whose table and filesystem are right.
	got := filepath.Join(dir, "out.raw")
	mustRun(t, 0, "extract", skip, got)
	if out, err := exec.Command("sgdisk", "-v", got).CombinedOutput(); err != nil || !strings.Contains(string(out), "No problems found") {
		t.Fatalf("sgdisk -v: %v\n%s", err, out)
	}
	fsOut := filepath.Join(dir, "out.fs")
	copyRegion(t, got, fsOut, 1*mib, 40*mib)
	sh(t, nil, "e2fsck", "-fn", fsOut)
}

// A loop device with no file attached holds 0 bytes: imaging it is a
// mistake, refused with an I/O error's exit code, not an empty image.
func TestCreateRefusesEmptyDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a loop device")
	}
	needTools(t, "losetup")
	out, err := exec.Command("losetup", "-f").Output()
	if err != nil {
		t.Skipf("no free loop device: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	img := filepath.Join(t.TempDir(), "img")
	code, _ := capture(t, "create", "--quiet", dev, img)
	if _, err := os.Stat(img); err == nil {
		t.Errorf("an image of the empty %s was written", dev)
	}
	if code != 7 {
		t.Fatalf("mcimage create %s: exit %d, want 7 (I/O error)", dev, code)
	}
}
