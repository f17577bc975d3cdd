package layout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
)

const mib = 1 << 20

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh installs it): %v", tool, err)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loop devices and mount")
	}
	needTools(t, "losetup")
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// loop attaches a loop device to path (over [off, off+size) when size >
// 0) and detaches it at the end of the test.
func loop(t *testing.T, path string, off, size int64) string {
	t.Helper()
	args := []string{"--find", "--show"}
	if size > 0 {
		args = append(args, "--offset", strconv.FormatInt(off, 10), "--sizelimit", strconv.FormatInt(size, 10))
	}
	dev := strings.TrimSpace(sh(t, "losetup", append(args, path)...))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

// testDisk is a source disk: a small first partition and the filesystem
// under test in the last one, made in files of their own (no root) and
// copied into place.
type testDisk struct {
	path             string
	size             int64
	lastStart, lastN int64 // bytes
}

func makeDisk(t *testing.T, dir, scheme, fs string, size, lastMiB int64) testDisk {
	t.Helper()
	d := testDisk{path: filepath.Join(dir, "src-"+scheme+"-"+fs), size: size, lastStart: 9 * mib, lastN: lastMiB * mib}
	if err := os.WriteFile(d.path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(d.path, size); err != nil {
		t.Fatal(err)
	}
	switch scheme {
	case "gpt":
		needTools(t, "sgdisk")
		sh(t, "sgdisk", "--zap-all", "--new=1:2048:+8M", "--typecode=1:8300",
			fmt.Sprintf("--new=2:%d:+%dM", d.lastStart/512, lastMiB), "--typecode=2:8300", d.path)
	case "mbr":
		needTools(t, "parted")
		sh(t, "parted", "-s", d.path, "mklabel", "msdos", "mkpart", "primary", "1MiB", "9MiB",
			"mkpart", "primary", "9MiB", fmt.Sprintf("%dMiB", 9+lastMiB))
	}
	fsFile := filepath.Join(dir, "fs")
	os.Truncate(fsFile, 0)
	if err := os.WriteFile(fsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(fsFile, d.lastN)
	switch fs {
	case "ext4":
		needTools(t, "mkfs.ext4")
		sh(t, "mkfs.ext4", "-q", "-F", fsFile)
	case "xfs":
		needTools(t, "mkfs.xfs")
		sh(t, "mkfs.xfs", "-q", "-f", fsFile)
	case "ntfs":
		needTools(t, "mkfs.ntfs")
		sh(t, "mkfs.ntfs", "-q", "-F", "-f", "-p", strconv.FormatInt(d.lastStart/512, 10), "-H", "0", "-S", "0", fsFile)
	}
	sh(t, "dd", "if="+fsFile, "of="+d.path, "bs=1M", "seek="+strconv.FormatInt(d.lastStart/mib, 10), "conv=notrunc,sparse", "status=none")
	os.Remove(fsFile)
	return d
}

// install copies the source disk onto a new target file of size bytes,
// as far as it fits (what an installer writes; a smaller target's tail is
// lost), and returns the target's path.
func install(t *testing.T, d testDisk, dir string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("target-%d", size))
	sh(t, "truncate", "-s", strconv.FormatInt(size, 10), p)
	sh(t, "dd", "if="+d.path, "of="+p, "bs=1M", "count="+strconv.FormatInt(min(size, d.size)/mib, 10), "conv=notrunc,sparse", "status=none")
	return p
}

func sgdiskClean(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("sgdisk", "-v", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No problems found") || strings.Contains(string(out), "Caution") {
		t.Fatalf("sgdisk -v %s: %v\n%s", path, err, out)
	}
}

// dfSize is the size df gives the filesystem on dev, mounted.
func dfSize(t *testing.T, dev, fstype string) int64 {
	t.Helper()
	dir := t.TempDir()
	args := []string{dev, dir}
	if fstype != "" {
		args = append([]string{"-t", fstype}, args...)
	}
	sh(t, "mount", args...)
	defer sh(t, "umount", dir)
	f := strings.Fields(strings.Split(strings.TrimSpace(sh(t, "df", "-B1", "--output=size", dir)), "\n")[1])
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

func TestFitGPTLargerTarget(t *testing.T) {
	needTools(t, "sgdisk", "mkfs.ext4")
	dir := t.TempDir()
	d := makeDisk(t, dir, "gpt", "ext4", 64*mib, 40)
	sgdiskClean(t, d.path)
	target := install(t, d, dir, 100*mib)
	if out, _ := exec.Command("sgdisk", "-v", target).CombinedOutput(); strings.Contains(string(out), "No problems found") {
		t.Fatalf("a GPT copied onto a larger disk is expected broken before Fit:\n%s", out)
	}
	res, _, err := FitPath(context.Background(), target, d.size, Config{})
	if err != nil || !res.Moved || res.Resized != nil || res.Scheme != "gpt" {
		t.Fatalf("FitPath: %+v %v", res, err)
	}
	sgdiskClean(t, target)
	// Nothing more to do a second time.
	if res, _, err := FitPath(context.Background(), target, d.size, Config{}); err != nil || res.Moved {
		t.Fatalf("second FitPath: %+v %v", res, err)
	}
	// The protective MBR covers the whole disk.
	out := sh(t, "sfdisk", "-d", "--label", "dos", "--label-nested", "dos", target)
	if !strings.Contains(out, fmt.Sprintf("size=      %d", 100*mib/512-1)) && !strings.Contains(out, strconv.FormatInt(100*mib/512-1, 10)) {
		t.Logf("protective MBR as sfdisk reads it:\n%s", out)
	}
}

// TestGrowGPT installs a GPT disk with ext4, XFS or NTFS in its last
// partition onto a larger loop device, grows it, and checks the table
// (sgdisk -v), the filesystem (its own checker) and its new size (df).
func TestGrowGPT(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		fs, tool, check string
		lastMiB         int64
	}{
		{"ext4", "resize2fs", "e2fsck", 40},
		{"xfs", "xfs_growfs", "xfs_repair", 300},
		{"ntfs", "ntfsresize", "ntfsfix", 40},
	} {
		t.Run(c.fs, func(t *testing.T) {
			needTools(t, "sgdisk", c.tool, c.check)
			dir := t.TempDir()
			d := makeDisk(t, dir, "gpt", c.fs, (c.lastMiB+10)*mib, c.lastMiB)
			targetFile := install(t, d, dir, d.size+200*mib)
			dev := loop(t, targetFile, 0, 0)
			before := dfSize(t, loop(t, targetFile, d.lastStart, d.lastN), fsType(c.fs))
			res, fr, err := FitPath(context.Background(), dev, d.size, Config{Grow: true})
			if err != nil || res.Resized == nil || !fr.Resized || fr.FS != c.fs {
				t.Fatalf("FitPath: %+v %+v %v", res, fr, err)
			}
			t.Log(Summary(res, fr))
			sgdiskClean(t, dev)
			part := loop(t, targetFile, res.Resized.Start, res.Resized.NewSize)
			switch c.fs {
			case "ext4":
				sh(t, "e2fsck", "-fn", part)
			case "xfs":
				sh(t, "xfs_repair", "-n", part)
			case "ntfs":
				sh(t, "ntfsfix", "-n", part)
			}
			after := dfSize(t, part, fsType(c.fs))
			t.Logf("%s: %d bytes before, %d after", c.fs, before, after)
			if after < before+180*mib {
				t.Fatalf("%s did not grow: %d bytes, was %d", c.fs, after, before)
			}
		})
	}
}

func fsType(fs string) string {
	if fs == "ntfs" {
		return "ntfs-3g"
	}
	return fs
}

// TestGrowMBR: the last primary partition of an MBR disk grows to the
// disk's end, and its ext4 with it.
func TestGrowMBR(t *testing.T) {
	needRoot(t)
	needTools(t, "parted", "sfdisk", "resize2fs", "e2fsck")
	dir := t.TempDir()
	d := makeDisk(t, dir, "mbr", "ext4", 64*mib, 40)
	targetFile := install(t, d, dir, 128*mib)
	res, fr, err := FitPath(context.Background(), targetFile, d.size, Config{Grow: true})
	if err != nil || res.Scheme != "mbr" || res.Resized == nil || !fr.Resized {
		t.Fatalf("FitPath: %+v %+v %v", res, fr, err)
	}
	if res.Resized.Start+res.Resized.NewSize != 128*mib {
		t.Fatalf("partition ends at %d", res.Resized.Start+res.Resized.NewSize)
	}
	out := sh(t, "sfdisk", "-d", targetFile)
	if !strings.Contains(out, fmt.Sprintf("start=       18432, size=      %d", (128-9)*mib/512)) {
		t.Fatalf("sfdisk:\n%s", out)
	}
	part := loop(t, targetFile, res.Resized.Start, res.Resized.NewSize)
	sh(t, "e2fsck", "-fn", part)
	if n := dfSize(t, part, "ext4"); n < 100*mib {
		t.Fatalf("df: %d bytes", n)
	}
}

// TestShrinkGPT: a smaller target that holds every used block gets its
// backup GPT at its end and its last partition and ext4 shrunk; one that
// does not is refused, naming the partition.
func TestShrinkGPT(t *testing.T) { testShrink(t, "gpt") }

// TestShrinkMBR is TestShrinkGPT on an MBR disk.
func TestShrinkMBR(t *testing.T) { testShrink(t, "mbr") }

func testShrink(t *testing.T, scheme string) {
	needRoot(t)
	needTools(t, "sgdisk", "parted", "sfdisk", "resize2fs", "e2fsck")
	dir := t.TempDir()
	d := makeDisk(t, dir, scheme, "ext4", 200*mib, 180)
	// Data early in the filesystem only (ext4 allocates low first).
	src := loop(t, d.path, d.lastStart, d.lastN)
	mnt := t.TempDir()
	sh(t, "mount", src, mnt)
	os.WriteFile(filepath.Join(mnt, "file"), []byte(strings.Repeat("discus ", 1<<16)), 0o644)
	sh(t, "umount", mnt)

	target := install(t, d, dir, 150*mib)
	dev := loop(t, target, 0, 0)
	res, fr, err := FitPath(context.Background(), dev, d.size, Config{})
	if err != nil || !res.Resized.Shrunk() || !fr.Resized {
		t.Fatalf("FitPath: %+v %+v %v", res, fr, err)
	}
	t.Log(Summary(res, fr))
	if scheme == "gpt" {
		sgdiskClean(t, dev)
	} else {
		sh(t, "sfdisk", "-V", dev)
		if res.Resized.Start+res.Resized.NewSize != 150*mib {
			t.Fatalf("partition ends at %d", res.Resized.Start+res.Resized.NewSize)
		}
	}
	part := loop(t, target, res.Resized.Start, res.Resized.NewSize)
	sh(t, "e2fsck", "-fn", part)
	got, err := os.ReadFile(filepath.Join(mountRO(t, part), "file"))
	if err != nil || len(got) != 7<<16 {
		t.Fatalf("file after shrinking: %d bytes, %v", len(got), err)
	}

	// Data past the new end (Clip's Dropped) is refused.
	target2 := install(t, d, dir, 120*mib)
	_, _, err = FitPath(context.Background(), target2, d.size, Config{Dropped: []image.Range{{Off: 130 * mib, Len: 4096}}})
	if !errors.Is(err, ErrDoesNotFit) || !strings.Contains(err.Error(), "partition 2") {
		t.Fatalf("data past the end: %v", err)
	}
	t.Log(err)
}

func mountRO(t *testing.T, dev string) string {
	t.Helper()
	dir := t.TempDir()
	sh(t, "mount", "-o", "ro", dev, dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// A bare FAT filesystem's boot sector ends in 55 AA like an MBR: Fit must
// take it for no table and write nothing to it; asked to grow, it finds no
// tool that grows FAT and says so.
func TestFitLeavesBareFilesystem(t *testing.T) {
	needTools(t, "mkfs.vfat")
	dir := t.TempDir()
	p := filepath.Join(dir, "fat")
	sh(t, "truncate", "-s", "33M", p)
	sh(t, "mkfs.vfat", "-F", "32", p)
	before, _ := os.ReadFile(p)
	sh(t, "truncate", "-s", "64M", p)
	res, fr, err := FitPath(context.Background(), p, 33*mib, Config{})
	if err != nil || res.Scheme != "" {
		t.Fatalf("FitPath on a bare FAT: %+v %v", res, err)
	}
	if res, fr, err = FitPath(context.Background(), p, 33*mib, Config{Grow: true}); err != nil || res.Scheme != "none" || fr.Resized || fr.Note == "" {
		t.Fatalf("FitPath --grow on a bare FAT: %+v %+v %v", res, fr, err)
	}
	t.Log(Summary(res, fr))
	after, _ := os.ReadFile(p)
	if string(after[:len(before)]) != string(before) {
		t.Fatal("the filesystem was changed")
	}
}

// TestGrowMBRLogical: when the last partition is a logical one, it and its
// extended container grow to the disk's end; sfdisk reads the table back.
func TestGrowMBRLogical(t *testing.T) {
	needTools(t, "parted", "sfdisk")
	dir := t.TempDir()
	p := filepath.Join(dir, "disk")
	sh(t, "truncate", "-s", "64M", p)
	sh(t, "parted", "-s", p, "mklabel", "msdos", "mkpart", "primary", "1MiB", "9MiB",
		"mkpart", "extended", "9MiB", "60MiB", "mkpart", "logical", "10MiB", "30MiB", "mkpart", "logical", "31MiB", "50MiB")
	sh(t, "truncate", "-s", "100M", p)
	res, _, err := FitPath(context.Background(), p, 64*mib, Config{Grow: true})
	if err != nil || res.Resized == nil || res.Resized.Index != 6 {
		t.Fatalf("FitPath: %+v %v", res, err)
	}
	out := sh(t, "sfdisk", "-d", p)
	for _, want := range []string{
		fmt.Sprintf("start=       18432, size=      %d, type=f", 100*mib/512-18432),
		fmt.Sprintf("start=       63488, size=      %d, type=83", 100*mib/512-63488),
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("sfdisk -d lacks %q:\n%s", want, out)
		}
	}
	sh(t, "sfdisk", "-V", p)
}

// TestGrowBareExt4: an image of a partition (a bare ext4, no table)
// installed onto a larger partition grows to fill it with Grow.
func TestGrowBareExt4(t *testing.T) {
	needRoot(t)
	needTools(t, "mkfs.ext4", "resize2fs", "e2fsck")
	p := filepath.Join(t.TempDir(), "part")
	sh(t, "truncate", "-s", "40M", p)
	sh(t, "mkfs.ext4", "-q", "-F", p)
	sh(t, "truncate", "-s", "100M", p)
	dev := loop(t, p, 0, 0)
	res, fr, err := FitPath(context.Background(), dev, 40*mib, Config{Grow: true})
	if err != nil || res.Scheme != "none" || !fr.Resized || fr.FS != "ext4" {
		t.Fatalf("FitPath: %+v %+v %v", res, fr, err)
	}
	t.Log(Summary(res, fr))
	sh(t, "e2fsck", "-fn", dev)
	if n := dfSize(t, dev, "ext4"); n < 85*mib {
		t.Fatalf("df: %d bytes", n)
	}
}

// TestCheckFits reads the map of real disks as mcimage extract does
// before writing: ext4 with its data early fits a smaller disk; NTFS does
// not (its backup boot sector is the volume's last sector), nor XFS (it
// cannot shrink), and each refusal names its partition.
func TestCheckFits(t *testing.T) {
	needTools(t, "sgdisk", "mkfs.ext4", "mkfs.ntfs", "mkfs.xfs")
	dir := t.TempDir()
	for _, c := range []struct {
		fs      string
		lastMiB int64
		size    int64
		want    string // "" fits
	}{
		{"ext4", 180, 150 * mib, ""},
		{"ext4", 180, 12 * mib, "partition 2 (ext4) has used blocks"},
		{"ntfs", 180, 150 * mib, "partition 2 (ntfs) has used blocks"},
		{"xfs", 300, 250 * mib, "partition 2"},
	} {
		d := makeDisk(t, dir, "gpt", c.fs, (c.lastMiB+20)*mib, c.lastMiB)
		f, err := os.Open(d.path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := fsmap.Scan(f, d.size, nil)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		err = CheckFits(m, c.size)
		switch {
		case c.want == "" && err != nil, c.want != "" && (!errors.Is(err, ErrDoesNotFit) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s onto %d bytes: %v, want %q", c.fs, c.size, err, c.want)
		}
		t.Logf("%s onto %d MiB: %v", c.fs, c.size/mib, err)
	}
}

// Data dropped past a smaller target's end on a disk with no table Fit
// knows is lost for good: refused, never a success.
func TestFitDroppedWithoutTable(t *testing.T) {
	d := &memDisk{t: t, b: make([]byte, 1*mib)}
	_, err := Fit(d, 8*mib, 1*mib, Config{Grow: true, Dropped: []image.Range{{Off: 3 * mib, Len: 4096}}})
	if !errors.Is(err, ErrDoesNotFit) || !errors.Is(err, image.ErrTargetTooSmall) {
		t.Fatalf("Fit: %v", err)
	}
	if res, err := Fit(d, 8*mib, 1*mib, Config{}); err != nil || res.Scheme != "" {
		t.Fatalf("nothing dropped: %+v %v", res, err)
	}
}
