package fsmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
)

// xfsSize is mkfs.xfs's minimum: the one slow filesystem of these tests.
const xfsSize = 300 << 20

func TestXFS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		block int
		mount bool // false: filled from a protofile, checked without mounting
	}{
		{"v5", nil, 4096, true},
		{"v5-1K-blocks", []string{"-b", "size=1024"}, 1024, true},
		{"v5-4K-sectors", []string{"-s", "size=4096"}, 4096, true},
		{"v4", []string{"-m", "crc=0"}, 4096, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name != "v5" {
				t.Skip("one 300 MiB XFS is enough in -short mode")
			}
			needTool(t, "mkfs.xfs")
			needTool(t, "xfs_repair")
			needTool(t, "xfs_db")
			// -K: mkfs.xfs would otherwise discard (punch out) the random
			// bytes that stand for a used disk's old data.
			img := fsbRandomFile(t, xfsSize, 4)
			tree := fsbTree(t, 60, 300<<10)
			if tc.mount {
				needRoot(t)
				run(t, "mkfs.xfs", append(append([]string{"-q", "-f", "-K"}, tc.args...), img)...)
				xfsFill(t, img, tree, tc.block)
			} else {
				if err := os.RemoveAll(filepath.Join(tree, "d", "gone")); err != nil {
					t.Fatal(err)
				}
				proto := xfsProtofile(t, filepath.Join(tree, "d"))
				run(t, "mkfs.xfs", append(append([]string{"-q", "-f", "-K", "-p", proto}, tc.args...), img)...)
			}
			levels := xfsBnoLevels(t, img)
			t.Logf("bnobt levels per AG: %v", levels)
			// With 1 KiB blocks a leaf holds 121 extents, so the 700 holes
			// make a two-level tree however XFS spreads them over the AGs.
			if tc.block == 1024 && !strings.ContainsAny(fmt.Sprint(levels), "23456789") {
				t.Errorf("no AG has a multi-level bnobt; the fragmentation step did not work")
			}

			used := fsbUsed(t, "xfs", img)
			fsbLogRatio(t, used, xfsSize)
			xfsCrossCheck(t, img, used)
			if n := fsbTotal(used); n > xfsSize/4 {
				t.Errorf("keeps %d of %d bytes for about 9 MiB of files", n, xfsSize)
			}
			scrubbed := fsbScrub(t, img, used)
			run(t, "xfs_repair", "-n", "-f", scrubbed)
			if tc.mount {
				out := fsbPrivateNS(t, `mount -t xfs -o loop,ro,nouuid "$IMG" "$DIR"
`+fsbDiffScript, "IMG="+scrubbed, "DIR="+t.TempDir(), "WANT="+filepath.Join(tree, "d"))
				t.Log(strings.TrimSpace(out))
			}
		})
	}
}

func TestXFSEmptyIsSmall(t *testing.T) {
	needTool(t, "mkfs.xfs")
	img := fsbRandomFile(t, xfsSize, 5)
	run(t, "mkfs.xfs", "-q", "-f", "-K", img)
	used := fsbUsed(t, "xfs", img)
	fsbLogRatio(t, used, xfsSize)
	// The internal log (64 MiB with recent mkfs.xfs) is most of what an empty
	// XFS keeps; it is allocated space that must be kept whole.
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 512)
	if _, err := f.ReadAt(sb, 0); err != nil {
		t.Fatal(err)
	}
	logBytes := int64(binary.BigEndian.Uint32(sb[96:])) * int64(binary.BigEndian.Uint32(sb[4:]))
	if n := fsbTotal(used); n-logBytes > 4<<20 {
		t.Errorf("empty XFS keeps %d of %d bytes, %d beyond its %d-byte log", n, xfsSize, n-logBytes, logBytes)
	}
}

func TestXFSDirtyLogIsKeptWhole(t *testing.T) {
	needTool(t, "mkfs.xfs")
	needTool(t, "xfs_io")
	needRoot(t)
	img := fsbRandomFile(t, xfsSize, 7)
	run(t, "mkfs.xfs", "-q", "-f", "-K", img)
	tree := fsbTree(t, 20, 100<<10)
	// Shut down with the log flushed but the metadata not written back, as
	// a crash leaves it.
	fsbPrivateNS(t, `mount -t xfs -o loop "$IMG" "$DIR"
cp -r "$SRC" "$DIR"
xfs_io -x -c "shutdown -f" "$DIR"
umount "$DIR"
`, "IMG="+img, "DIR="+t.TempDir(), "SRC="+filepath.Join(tree, "d"))

	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := xfsUsed(f, xfsSize); !errors.Is(err, errXFSDirty) {
		t.Fatalf("dirty log: err = %v, want errXFSDirty", err)
	} else {
		t.Log(err)
	}
}

func FuzzXFS(f *testing.F) {
	fsbFuzzSeeds(f, "xfs")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsbFuzzOne(t, "xfs", data)
	})
}

// xfsFill copies tree/d into img after a directory that is then deleted,
// and fragments free space (many one-block files, every other one deleted)
// so that the free space btree needs more than one level.
func xfsFill(t *testing.T, img, tree string, block int) {
	t.Helper()
	frag := filepath.Join(tree, "d", "frag")
	if err := os.MkdirAll(frag, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 1400 {
		data := []byte(strings.Repeat(fmt.Sprintf("block %d ", i), block)[:block])
		if err := os.WriteFile(filepath.Join(frag, fmt.Sprintf("%04d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsbPrivateNS(t, `mount -t xfs -o loop "$IMG" "$DIR"
cp -r "$SRC/gone" "$DIR/gone"
cp -r "$SRC" "$DIR"
sync -f "$DIR" # allocate the delayed blocks before deleting
rm -r "$DIR/gone" "$DIR/d/gone"
rm "$DIR"/d/frag/*[02468]
umount "$DIR"
`, "IMG="+img, "DIR="+t.TempDir(), "SRC="+filepath.Join(tree, "d"))
	for i := 0; i < 1400; i += 2 {
		if err := os.Remove(filepath.Join(frag, fmt.Sprintf("%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(tree, "d", "gone")); err != nil {
		t.Fatal(err)
	}
}

// xfsProtofile describes src for mkfs.xfs -p, which fills a filesystem
// without mounting it (the kernel may no longer mount V4 XFS).
func xfsProtofile(t *testing.T, src string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("/dev/null\n0 0\nd--755 0 0\n")
	b.WriteString("d d--755 0 0\n")
	var walk func(dir, indent string)
	walk = func(dir, indent string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				fmt.Fprintf(&b, "%s%s d--755 0 0\n", indent, e.Name())
				walk(p, indent+" ")
				fmt.Fprintf(&b, "%s$\n", indent)
			} else {
				fmt.Fprintf(&b, "%s%s ---644 0 0 %s\n", indent, e.Name(), p)
			}
		}
	}
	walk(src, " ")
	b.WriteString(" $\n$\n")
	path := filepath.Join(t.TempDir(), "proto")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// xfsCrossCheck compares the bytes dropped with xfs_db's count of free
// blocks, less the AG free lists, which the map keeps.
func xfsCrossCheck(t *testing.T, img string, used []image.Range) {
	t.Helper()
	args := []string{"-r", "-c", "freesp -s", "-c", "sb 0", "-c", "p blocksize dblocks"}
	for ag := range len(xfsBnoLevels(t, img)) {
		args = append(args, "-c", fmt.Sprintf("agf %d", ag), "-c", "p flcount")
	}
	out := run(t, "xfs_db", append(args, img)...)
	var flcount int64
	for _, m := range regexp.MustCompile(`flcount = (\d+)`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		flcount += n
	}
	re := func(expr string) int64 {
		m := regexp.MustCompile(expr).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %q in xfs_db output:\n%s", expr, out)
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return v
	}
	free, bs, dblocks := re(`total free blocks (\d+)`), re(`blocksize = (\d+)`), re(`dblocks = (\d+)`)
	if got := dblocks - fsbBytesIn(used, 0, dblocks*bs)/bs; got != free-flcount {
		t.Errorf("map drops %d blocks, xfs_db counts %d free of which %d on free lists", got, free, flcount)
	}
}

// xfsBnoLevels asks xfs_db for each AG's bnobt height.
func xfsBnoLevels(t *testing.T, img string) []int {
	t.Helper()
	out := run(t, "xfs_db", "-r", "-c", "sb 0", "-c", "p agcount", img)
	m := regexp.MustCompile(`agcount = (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("xfs_db: no agcount in %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	var levels []int
	for ag := range n {
		out := run(t, "xfs_db", "-r", "-c", fmt.Sprintf("agf %d", ag), "-c", "p bnolevel", img)
		m := regexp.MustCompile(`bnolevel = (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("xfs_db: no bnolevel in %q", out)
		}
		l, _ := strconv.Atoi(m[1])
		levels = append(levels, l)
	}
	return levels
}

func BenchmarkXFSUsed(b *testing.B) {
	fsbBenchUsed(b, "xfs", 4<<30, "mkfs.xfs", "-q", "-f")
}
