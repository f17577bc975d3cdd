package fsmap

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
)

// extCheck makes an ext filesystem with mkfs args on a random-filled file
// holding a generated tree, scans it, re-randomises every byte the map
// calls free, then requires a clean e2fsck and identical files.
func extCheck(t *testing.T, mkfs string, size int64, wantFS string, args ...string) {
	t.Helper()
	needTool(t, mkfs)
	needTool(t, "e2fsck")
	needTool(t, "debugfs")
	img := newRandomFile(t, size)
	src := t.TempDir()
	total := writeTree(t, src, uint64(size)+uint64(len(args)), 150, 48<<10)
	args = append(append([]string{"-q", "-F", "-E", "nodiscard", "-d", src}, args...), img)
	run(t, mkfs, args...)
	m := scanFile(t, img)
	if len(m.Partitions) != 1 || m.Partitions[0].FS != wantFS || m.Partitions[0].Warning != "" {
		t.Fatalf("partitions: %+v", m.Partitions)
	}
	if m.UsedBytes() < total || m.UsedBytes() > size/2 {
		t.Errorf("used %d bytes of %d for %d bytes of files", m.UsedBytes(), size, total)
	}
	extVerify(t, img, 0, m, src)
}

// extVerify scrubs img outside m.Used and checks the ext filesystem at
// byte off against the tree src.
func extVerify(t *testing.T, img string, off int64, m *Map, src string) {
	t.Helper()
	scrub := scrubbed(t, img, m.Used)
	dev := scrub
	if off != 0 {
		dev = extractPart(t, scrub, off, m)
	}
	if out, err := runStatus(t, "e2fsck", "-fn", dev); err != nil {
		t.Fatalf("e2fsck on scrubbed copy: %v\n%s", err, out)
	}
	dst := t.TempDir()
	run(t, "debugfs", "-R", "rdump / "+dst, dev)
	compareTrees(t, src, dst)
	if os.Geteuid() == 0 {
		// The kernel's view too: mount the scrubbed copy read-only.
		compareTrees(t, src, loopMountRO(t, dev, 0, "ext4"))
	}
}

// extractPart copies the partition starting at off out of a disk image,
// for tools that take no offset.
func extractPart(t *testing.T, img string, off int64, m *Map) string {
	t.Helper()
	for _, p := range m.Partitions {
		if p.Start == off {
			out := filepath.Join(t.TempDir(), "part.img")
			run(t, "dd", "if="+img, "of="+out, "bs=4096", "iflag=skip_bytes,count_bytes",
				"skip="+itoa(off), "count="+itoa(p.Size), "status=none")
			return out
		}
	}
	t.Fatalf("no partition at %d", off)
	return ""
}

func TestExt4Default(t *testing.T) { extCheck(t, "mkfs.ext4", 64<<20, "ext4") }

func TestExt4No64Bit1K(t *testing.T) {
	// 1 KiB blocks (first data block 1), small groups: many groups, sparse
	// superblock backups and BLOCK_UNINIT groups.
	extCheck(t, "mkfs.ext4", 48<<20, "ext4", "-O", "^64bit", "-b", "1024", "-g", "2048")
}

func TestExt4Bigalloc(t *testing.T) {
	extCheck(t, "mkfs.ext4", 64<<20, "ext4", "-O", "bigalloc", "-C", "65536")
}

func TestExt4MetaBG(t *testing.T) {
	extCheck(t, "mkfs.ext4", 64<<20, "ext4", "-O", "meta_bg,^resize_inode", "-b", "1024", "-g", "1024")
}

func TestExt4SparseSuper2Desc128(t *testing.T) {
	extCheck(t, "mkfs.ext4", 64<<20, "ext4", "-O", "sparse_super2,^flex_bg", "-E", "num_backup_sb=1,desc_size=128")
}

func TestExt2(t *testing.T) { extCheck(t, "mkfs.ext2", 32<<20, "ext2") }

func TestExt3(t *testing.T) {
	// ext3's journal is block-mapped: exercises the indirect-block walk.
	extCheck(t, "mkfs.ext3", 32<<20, "ext3", "-b", "1024")
}

func TestExtTruncatedIsWarned(t *testing.T) {
	needTool(t, "mkfs.ext4")
	img := newRandomFile(t, 16<<20)
	run(t, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", img)
	run(t, "truncate", "-s", "8M", img)
	m := scanFile(t, img)
	p := m.Partitions[0]
	if p.FS != "ext4" || !strings.Contains(p.Warning, "larger than its partition") || m.UsedBytes() != m.Size {
		t.Fatalf("truncated ext4: %+v used %d", p, m.UsedBytes())
	}
}

func TestExtNeedsRecoveryKeptWhole(t *testing.T) {
	needTool(t, "mkfs.ext4")
	img := newRandomFile(t, 16<<20)
	run(t, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", img)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	b[1024+96] |= extIncompatRecover
	writeAt(t, img, map[int64][]byte{1024 + 96: b[1024+96 : 1024+97]})
	m := scanFile(t, img)
	if p := m.Partitions[0]; p.FS != "ext4" || !strings.Contains(p.Warning, "recovery") || m.UsedBytes() != m.Size {
		t.Fatalf("needs_recovery: %+v", p)
	}
}

// TestExt4Resized: a filesystem grown by resize2fs uses its reserved GDT
// blocks and gains groups made by a different code path than mkfs.
func TestExt4Resized(t *testing.T) {
	needTool(t, "resize2fs")
	img := newRandomFile(t, 96<<20)
	src := t.TempDir()
	writeTree(t, src, 77, 100, 32<<10)
	run(t, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-b", "1024", "-d", src, img, "24M")
	run(t, "e2fsck", "-fy", img)
	run(t, "resize2fs", img, "96M")
	m := scanFile(t, img)
	if m.Partitions[0].FS != "ext4" || m.Partitions[0].Warning != "" {
		t.Fatalf("%+v", m.Partitions)
	}
	extVerify(t, img, 0, m, src)
}

// TestExt4KernelWritten: files written and deleted by the kernel through a
// loop mount, so bitmaps, extents and the journal are as a live system
// leaves them, and freed blocks still hold the deleted files' bytes.
func TestExt4KernelWritten(t *testing.T) {
	needRoot(t)
	img := newRandomFile(t, 64<<20)
	run(t, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", img)
	src := t.TempDir()
	writeTree(t, src, 99, 200, 96<<10)
	t.Run("fill", func(t *testing.T) {
		needTool(t, "unshare")
		var del []string
		for name := range treeFiles(t, src) {
			if len(name)%3 == 0 {
				del = append(del, name)
			}
		}
		list := filepath.Join(t.TempDir(), "delete")
		if err := os.WriteFile(list, []byte(strings.Join(del, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// The kernel writes the filesystem inside a mount namespace of its own:
		// a mount in the shared one can be copied into a namespace another test
		// creates meanwhile (ip netns exec), and then umount only detaches it
		// here and the data never reaches the image before we read it.
		script := `dev=$(losetup -f --show "$IMG")
trap 'losetup -d "$dev"' EXIT
mount -t ext4 "$dev" "$MNT"
cp -a "$SRC"/. "$MNT"/
sync
while IFS= read -r f; do [ -n "$f" ] && rm -f "$MNT/$f"; done < "$DEL"
sync
umount "$MNT"`
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-ec", script)
		cmd.Env = append(os.Environ(), "IMG="+img, "MNT="+t.TempDir(), "SRC="+src, "DEL="+list)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("filling through the kernel: %v\n%s", err, out)
		}
		for _, name := range del {
			if err := os.Remove(filepath.Join(src, name)); err != nil {
				t.Fatal(err)
			}
		}
	})
	if t.Failed() || t.Skipped() {
		return
	}
	m := scanFile(t, img)
	if m.Partitions[0].Warning != "" {
		t.Fatalf("%+v", m.Partitions)
	}
	extVerify(t, img, 0, m, src)
}

// extFreeRanges is the free space of an ext image as dumpe2fs (libext2fs,
// which initialises BLOCK_UNINIT bitmaps itself) reports it, in bytes.
func extFreeRanges(t *testing.T, img string) []image.Range {
	out := run(t, "dumpe2fs", img)
	var blockSize, clusterSize int64
	var free []image.Range
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch {
		case k == "Block size":
			blockSize, _ = strconv.ParseInt(v, 10, 64)
			clusterSize = blockSize
		case k == "Cluster size":
			clusterSize, _ = strconv.ParseInt(v, 10, 64)
		case k == "  Free blocks" && v != "":
			for _, part := range strings.Split(v, ", ") {
				lo, hi, found := strings.Cut(part, "-")
				if !found {
					hi = lo
				}
				a, err1 := strconv.ParseInt(lo, 10, 64)
				b, err2 := strconv.ParseInt(hi, 10, 64)
				if err1 != nil || err2 != nil || blockSize == 0 {
					t.Fatalf("dumpe2fs line %q", line)
				}
				// With bigalloc a listed block stands for its whole cluster.
				free = append(free, image.Range{Off: a * blockSize, Len: (b-a)*blockSize + clusterSize})
			}
		}
	}
	return normalize(free)
}

// TestExtMatchesDumpe2fs: the map keeps exactly what libext2fs calls in
// use (never less; more only past the filesystem's end).
func TestExtMatchesDumpe2fs(t *testing.T) {
	needTool(t, "dumpe2fs")
	for name, args := range map[string][]string{
		"default":   nil,
		"1k-no64":   {"-O", "^64bit", "-b", "1024", "-g", "2048"},
		"bigalloc":  {"-O", "bigalloc", "-C", "65536"},
		"meta_bg":   {"-O", "meta_bg,^resize_inode", "-b", "1024", "-g", "1024"},
		"noflex":    {"-O", "^flex_bg", "-b", "2048"},
		"sparse2":   {"-O", "sparse_super2", "-E", "num_backup_sb=2"},
		"ext2-nocs": {"-O", "^metadata_csum,^has_journal,^extent,^flex_bg,^64bit,^huge_file,^dir_nlink,^extra_isize"},
	} {
		t.Run(name, func(t *testing.T) {
			const size = 48 << 20
			img := newRandomFile(t, size)
			src := t.TempDir()
			writeTree(t, src, 5, 80, 40<<10)
			run(t, "mkfs.ext4", append(append([]string{"-q", "-F", "-E", "nodiscard", "-d", src}, args...), img)...)
			m := scanFile(t, img)
			free := extFreeRanges(t, img)
			for _, f := range free {
				for _, u := range m.Used {
					if lo, hi := max(f.Off, u.Off), min(f.End(), u.End()); hi > lo {
						t.Errorf("kept %d free bytes at %d", hi-lo, lo)
					}
				}
			}
			for _, gap := range complement(m.Used, size) {
				if !covers(free, gap) {
					t.Fatalf("dropped %+v, which dumpe2fs calls used", gap)
				}
			}
		})
	}
}

func covers(rs []image.Range, x image.Range) bool {
	for _, r := range rs {
		if r.Off <= x.Off && x.End() <= r.End() {
			return true
		}
	}
	return false
}
