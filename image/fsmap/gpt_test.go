package fsmap

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const (
	guidESP   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	guidLinux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	guidSwap  = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
)

// gptLayout is the test disk: a FAT32 ESP, ext4 and swap, in MiB.
var gptLayout = []struct {
	kind, typ, fs, typeName string
	start, size             int64
}{
	{"vfat32", guidESP, "vfat", "EFI System", 1, 40},
	{"ext4", guidLinux, "ext4", "Linux filesystem", 41, 48},
	{"swap", guidSwap, "swap", "Linux swap", 89, 8},
}

// gptDisk builds the test disk with sector size ss; with sgdisk it writes
// the table with the real tool, else by hand.
func gptDisk(t *testing.T, ss int64, sgdisk bool) (disk string, trees []string) {
	const size = 100 << 20
	disk = newRandomFile(t, size)
	if sgdisk {
		args := []string{}
		for i, p := range gptLayout {
			n := itoa(int64(i + 1))
			args = append(args, "-n", n+":"+itoa(p.start<<20/ss)+":+"+itoa(p.size)+"M", "-t", n+":"+p.typ)
		}
		run(t, "sgdisk", append(args, disk)...)
	} else {
		var parts []testPart
		for _, p := range gptLayout {
			parts = append(parts, testPart{first: p.start << 20 / ss, count: p.size << 20 / ss, typ: p.typ})
		}
		writeAt(t, disk, buildGPT(size, ss, parts))
	}
	for i, p := range gptLayout {
		img, src := makeFS(t, p.kind, p.size<<20, uint64(i))
		copyInto(t, disk, p.start<<20, img)
		trees = append(trees, src)
	}
	return disk, trees
}

func gptCheck(t *testing.T, disk string, trees []string) *Map {
	m := scanFile(t, disk)
	if len(m.Partitions) != len(gptLayout) {
		t.Fatalf("partitions: %+v", m.Partitions)
	}
	for i, want := range gptLayout {
		p := m.Partitions[i]
		if p.Scheme != "gpt" || p.Index != i+1 || p.Start != want.start<<20 || p.Size != want.size<<20 ||
			p.FS != want.fs || !strings.HasPrefix(p.Type, want.typeName) || p.Warning != "" {
			t.Fatalf("partition %d: %+v, want %+v", i+1, p, want)
		}
		t.Logf("partition %d %s: %d of %d bytes used", p.Index, p.FS, p.Used, p.Size)
	}
	// Headers, tables and the gap before the first partition are kept, and
	// so is the backup GPT after the last one.
	if m.Used[0].Off != 0 || m.Used[0].Len < 1<<20 || m.Used[len(m.Used)-1].End() != m.Size {
		t.Fatalf("tables not kept: first %+v last %+v", m.Used[0], m.Used[len(m.Used)-1])
	}
	if m.UsedBytes() > m.Size/3 {
		t.Errorf("used %d of %d bytes", m.UsedBytes(), m.Size)
	}
	scrub := scrubbed(t, disk, m.Used)
	for i, p := range m.Partitions {
		verifyPart(t, scrub, p, trees[i])
	}
	if out, err := runStatus(t, "sgdisk", "-v", scrub); err != nil || !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v on scrubbed disk: %v\n%s", err, out)
	}
	return m
}

func TestGPTDisk512(t *testing.T) {
	disk, trees := gptDisk(t, 512, true)
	gptCheck(t, disk, trees)
}

func TestGPTDisk4096(t *testing.T) {
	disk, trees := gptDisk(t, 4096, false)
	m := scanFile(t, disk)
	for i, want := range gptLayout {
		if p := m.Partitions[i]; p.Start != want.start<<20 || p.FS != want.fs {
			t.Fatalf("partition %d: %+v", i+1, p)
		}
	}
	if os.Geteuid() == 0 {
		// sfdisk on a 4096-byte-sector loop device must agree with Scan.
		kp := loopPartitions(t, disk, 4096)
		if len(kp) != len(m.Partitions) {
			t.Fatalf("sfdisk sees %v, Scan %+v", kp, m.Partitions)
		}
		for i, p := range m.Partitions {
			if kp[i] != [2]int64{p.Start, p.Size} {
				t.Fatalf("partition %d: sfdisk %v, Scan %d+%d", i+1, kp[i], p.Start, p.Size)
			}
		}
	}
	scrub := scrubbed(t, disk, m.Used)
	for i, p := range m.Partitions {
		verifyPart(t, scrub, p, trees[i])
	}
}

func TestGPTBackupHeader(t *testing.T) {
	disk := newRandomFile(t, 8<<20)
	run(t, "sgdisk", "-n", "1:2048:+2M", "-t", "1:"+guidSwap, "-n", "2:0:+2M", "-t", "2:"+guidLinux, disk)
	swap, _ := makeFS(t, "swap", 2<<20, 0)
	copyInto(t, disk, 1<<20, swap)
	writeAt(t, disk, map[int64][]byte{512 + 24: {0x00}}) // break the primary header's CRC
	m := scanFile(t, disk)
	if len(m.Partitions) != 2 || m.Partitions[0].FS != "swap" || m.Partitions[1].Start != 3<<20 {
		t.Fatalf("backup header not used: %+v", m.Partitions)
	}
	// Both broken: the disk is kept whole rather than guessed at.
	writeAt(t, disk, map[int64][]byte{m.Size - 512 + 24: {0x00}})
	m = scanFile(t, disk)
	if m.UsedBytes() != m.Size || len(m.Partitions) != 1 || m.Partitions[0].Warning == "" {
		t.Fatalf("broken GPT: %+v", m.Partitions)
	}
}

func TestGPTHeaderChecks(t *testing.T) {
	size := int64(8 << 20)
	parts := []testPart{{first: 2048, count: 4096, typ: guidLinux}}
	for name, mut := range map[string]func(w map[int64][]byte){
		"huge entry count": func(w map[int64][]byte) { w[512][80], w[512][83] = 0xff, 0x7f },
		"bad entry size":   func(w map[int64][]byte) { w[512][84] = 7 },
		"array CRC":        func(w map[int64][]byte) { w[1024][100] ^= 1 },
	} {
		w := buildGPT(size, 512, parts)
		mut(w)
		b := make([]byte, size)
		for off, x := range w {
			copy(b[off:], x)
		}
		if _, _, err := gptRead(readerAt(b), size, 512, 1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	w := buildGPT(size, 512, parts)
	b := make([]byte, size)
	for off, x := range w {
		copy(b[off:], x)
	}
	ps, _, err := gptRead(readerAt(b), size, 512, 1)
	if err != nil || len(ps) != 1 || ps[0].Start != 2048*512 || ps[0].Size != 4096*512 {
		t.Fatalf("good header: %v %+v", err, ps)
	}
}

type readerAt []byte

func (b readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, os.ErrInvalid
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, os.ErrClosed
	}
	return n, nil
}

// loopPartitions attaches disk to a loop device with sector size ss and
// returns (start, size) in bytes of the partitions sfdisk reads from it: an
// outside check of a hand-built table, with the device's real sector size.
func loopPartitions(t *testing.T, disk string, ss int64) [][2]int64 {
	out, err := runStatus(t, "losetup", "--find", "--show", "--read-only", "--sector-size", itoa(ss), disk)
	if err != nil {
		t.Skipf("losetup --sector-size: %v\n%s", err, out)
	}
	dev := strings.TrimSpace(out)
	defer runStatus(t, "losetup", "-d", dev)
	var table struct {
		PartitionTable struct {
			Label      string
			SectorSize int64
			Partitions []sfdiskPart
		}
	}
	if err := json.Unmarshal([]byte(run(t, "sfdisk", "-J", dev)), &table); err != nil {
		t.Fatal(err)
	}
	pt := table.PartitionTable
	if pt.Label != "gpt" || pt.SectorSize != ss {
		t.Fatalf("sfdisk reads a %q table with %d-byte sectors", pt.Label, pt.SectorSize)
	}
	var parts [][2]int64
	for _, p := range pt.Partitions {
		parts = append(parts, [2]int64{p.Start * ss, p.Size * ss})
	}
	return parts
}
