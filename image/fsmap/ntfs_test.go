package fsmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
)

func TestNTFS(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"4K-clusters", nil},
		{"512-clusters", []string{"-c", "512"}},
		{"64K-clusters-4K-sectors", []string{"-c", "65536", "-s", "4096"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needTool(t, "mkfs.ntfs")
			needTool(t, "ntfsfix")
			needTool(t, "ntfs-3g")
			needRoot(t)
			const size = 64 << 20
			img := fsbRandomFile(t, size, 3)
			run(t, "mkfs.ntfs", append(append([]string{"-F", "-Q", "-q"}, tc.args...), img)...)
			tree := fsbTree(t, 80, 300<<10)
			// ntfs-3g stays in the foreground so that the script can wait
			// for it to finish writing after umount.
			fsbPrivateNS(t, ntfsMountScript("")+`cp -r "$SRC/gone" "$DIR/gone"
cp -r "$SRC" "$DIR"
rm -r "$DIR/gone" "$DIR/d/gone"
`, "IMG="+img, "DIR="+t.TempDir(), "SRC="+filepath.Join(tree, "d"))
			if err := os.RemoveAll(filepath.Join(tree, "d", "gone")); err != nil {
				t.Fatal(err)
			}

			used := fsbUsed(t, "ntfs", img)
			fsbLogRatio(t, used, size)
			ntfsCrossCheck(t, img, used)
			if n := fsbTotal(used); n > size/2 {
				t.Errorf("keeps %d of %d bytes for about 9 MiB of files", n, size)
			}
			scrubbed := fsbScrub(t, img, used)
			out := run(t, "ntfsfix", "-n", scrubbed)
			if !strings.Contains(out, "processed successfully") {
				t.Fatalf("ntfsfix -n on the scrubbed copy:\n%s", out)
			}
			out = fsbPrivateNS(t, ntfsMountScript("ro")+fsbDiffScript,
				"IMG="+scrubbed, "DIR="+t.TempDir(), "WANT="+filepath.Join(tree, "d"))
			t.Log(strings.TrimSpace(out))
		})
	}
}

// ntfsCrossCheck compares the clusters kept with ntfsinfo's count of free
// clusters.
func ntfsCrossCheck(t *testing.T, img string, used []image.Range) {
	t.Helper()
	needTool(t, "ntfsinfo")
	out := run(t, "ntfsinfo", "-m", img)
	total := regexp.MustCompile(`Volume Size in Clusters: (\d+)`).FindStringSubmatch(out)
	free := regexp.MustCompile(`Free Clusters: (\d+)`).FindStringSubmatch(out)
	cs := regexp.MustCompile(`Cluster Size: (\d+)`).FindStringSubmatch(out)
	if total == nil || free == nil || cs == nil {
		t.Fatalf("unexpected ntfsinfo output:\n%s", out)
	}
	n, _ := strconv.ParseInt(total[1], 10, 64)
	f, _ := strconv.ParseInt(free[1], 10, 64)
	c, _ := strconv.ParseInt(cs[1], 10, 64)
	if got := fsbBytesIn(used, 0, n*c) / c; got != n-f {
		t.Errorf("map keeps %d clusters, ntfsinfo counts %d in use", got, n-f)
	}
}

func TestNTFSRunlist(t *testing.T) {
	// 0x21: 1-byte length, 2-byte offset; a negative delta; a hole (0x01).
	b := []byte{0x21, 0x10, 0x00, 0x01, 0x21, 0x08, 0xF0, 0xFF, 0x01, 0x04, 0x11, 0x02, 0x20, 0x00}
	runs, err := ntfsDecodeRuns(b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []ntfsRun{{0, 256, 16}, {16, 240, 8}, {24, -1, 4}, {28, 272, 2}}
	if len(runs) != len(want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	for i := range want {
		if runs[i] != want[i] {
			t.Fatalf("runs %v, want %v", runs, want)
		}
	}
	if _, err := ntfsDecodeRuns([]byte{0x11, 0x10, 0xF0, 0x00}, 1000); err == nil {
		t.Error("run before LCN 0 accepted")
	}
	if _, err := ntfsDecodeRuns([]byte{0x11, 0x80, 0x01, 0x00}, 1000); err == nil {
		t.Error("negative run length accepted")
	}
}

func TestNTFSTornRecord(t *testing.T) {
	g := &ntfsGeom{recordSize: 1024, clusterSize: 4096}
	rec := make([]byte, 1024)
	copy(rec, "FILE")
	binary.LittleEndian.PutUint16(rec[4:], 0x30)
	binary.LittleEndian.PutUint16(rec[6:], 3)
	copy(rec[0x30:], []byte{7, 0, 0xAA, 0xBB, 0xCC, 0xDD})
	copy(rec[510:], []byte{7, 0})
	copy(rec[1022:], []byte{7, 0})
	got, err := ntfsReadRecord(bytes.NewReader(rec), g, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[510:512], []byte{0xAA, 0xBB}) || !bytes.Equal(got[1022:], []byte{0xCC, 0xDD}) {
		t.Errorf("fixups not applied: % x % x", got[510:512], got[1022:])
	}
	rec[1022] = 8
	if _, err := ntfsReadRecord(bytes.NewReader(rec), g, 0); err == nil {
		t.Error("torn record accepted")
	}
}

func TestNTFSDirtyIsKeptWhole(t *testing.T) {
	needTool(t, "mkfs.ntfs")
	img := fsbRandomFile(t, 16<<20, 6)
	run(t, "mkfs.ntfs", "-F", "-Q", "-q", img)
	fsbUsed(t, "ntfs", img) // clean: fine

	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boot := make([]byte, 512)
	if _, err := f.ReadAt(boot, 0); err != nil {
		t.Fatal(err)
	}
	g, err := ntfsParse(boot)
	if err != nil {
		t.Fatal(err)
	}
	mft, err := ntfsReadRecord(f, g, g.mftLCN*g.clusterSize)
	if err != nil {
		t.Fatal(err)
	}
	runs, _, err := ntfsDataRuns(mft, g)
	if err != nil {
		t.Fatal(err)
	}
	volOff, err := ntfsRunsOffset(runs, g, ntfsRecordVolume*g.recordSize)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ntfsReadRecord(f, g, volOff)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ntfsResidentValue(rec, ntfsAttrVolInfo)
	if err != nil {
		t.Fatal(err)
	}
	flagsAt := volOff + int64(cap(rec)-cap(v)) + 10
	if _, err := f.WriteAt([]byte{byte(v[10] | ntfsVolumeDirty)}, flagsAt); err != nil {
		t.Fatal(err)
	}

	_, err = ntfsUsed(f, 16<<20)
	if !errors.Is(err, errNTFSDirty) {
		t.Fatalf("dirty volume: err = %v, want errNTFSDirty", err)
	}
}

func FuzzNTFS(f *testing.F) {
	fsbFuzzSeeds(f, "ntfs")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsbFuzzOne(t, "ntfs", data)
	})
}

// ntfsMountScript mounts $IMG on $DIR with ntfs-3g kept in the foreground,
// and on exit unmounts and waits for ntfs-3g to have written everything.
func ntfsMountScript(opts string) string {
	if opts != "" {
		opts = "," + opts
	}
	return `ntfs-3g -o no_detach` + opts + ` "$IMG" "$DIR" & pid=$!
trap 'umount "$DIR" 2>/dev/null || true; wait $pid' EXIT
for i in $(seq 200); do mountpoint -q "$DIR" && break; sleep 0.05; done
mountpoint -q "$DIR"
`
}

func BenchmarkNTFSUsed(b *testing.B) {
	fsbBenchUsed(b, "ntfs", 4<<30, "mkfs.ntfs", "-F", "-Q", "-q")
}
