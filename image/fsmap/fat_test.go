package fsmap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/discuscast/discus/image"
)

// The fsb* helpers serve the FAT, NTFS and XFS tests: they call a reader
// straight through the registry, so these tests do not depend on the
// dispatcher, and they check a map the strong way, by re-randomising every
// byte it leaves out and running the filesystem's own checker on the result.

func TestFAT(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		args []string
	}{
		{"FAT12", 8 << 20, []string{"-F", "12"}},
		{"FAT16", 32 << 20, []string{"-F", "16"}},
		{"FAT32", 64 << 20, []string{"-F", "32", "-s", "1"}},
		{"FAT16-4Ksector", 64 << 20, []string{"-F", "16", "-S", "4096"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needTool(t, "mkfs.vfat")
			needTool(t, "mcopy")
			needTool(t, "fsck.vfat")
			img := fsbRandomFile(t, tc.size, 1)
			run(t, "mkfs.vfat", append(tc.args, img)...)
			tree := fsbTree(t, 60, 200<<10)
			// "gone" goes in first, so deleting it leaves holes before the
			// files that stay.
			run(t, "mmd", "-i", img, "::/d")
			run(t, "mcopy", "-s", "-i", img, filepath.Join(tree, "d", "gone"), "::/d/")
			subs, _ := filepath.Glob(filepath.Join(tree, "d", "sub*"))
			run(t, "mcopy", append([]string{"-s", "-i", img}, append(subs, "::/d/")...)...)
			// Deleted files leave stale clusters that the map must drop.
			run(t, "mdeltree", "-i", img, "::/d/gone")
			if err := os.RemoveAll(filepath.Join(tree, "d", "gone")); err != nil {
				t.Fatal(err)
			}

			used := fsbUsed(t, "vfat", img)
			fsbLogRatio(t, used, tc.size)
			fatCrossCheck(t, img, used)
			scrubbed := fsbScrub(t, img, used)
			run(t, "fsck.vfat", "-n", scrubbed)
			out := t.TempDir()
			run(t, "mcopy", "-s", "-n", "-i", scrubbed, "::/d", out)
			fsbSameTree(t, filepath.Join(tree, "d"), filepath.Join(out, "d"))
		})
	}
}

// fatCrossCheck compares the data clusters kept with the count of used
// clusters that dosfstools computes on its own.
func fatCrossCheck(t *testing.T, img string, used []image.Range) {
	t.Helper()
	out := run(t, "fsck.vfat", "-n", "-v", img)
	m := regexp.MustCompile(`(\d+)/(\d+) clusters`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no cluster count in fsck.vfat output:\n%s", out)
	}
	want, _ := strconv.ParseInt(m[1], 10, 64)
	boot, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	g, err := fatParse(boot[:512])
	if err != nil {
		t.Fatal(err)
	}
	got := fsbBytesIn(used, g.dataStart, g.dataStart+g.clusters*g.clusterSize) / g.clusterSize
	if got != want {
		t.Errorf("map keeps %d data clusters, fsck.vfat counts %d in use", got, want)
	}
}

// fsbBytesIn counts the bytes of sorted, merged ranges inside [lo, hi).
func fsbBytesIn(rs []image.Range, lo, hi int64) int64 {
	var n int64
	for _, r := range rs {
		if a, b := max(r.Off, lo), min(r.End(), hi); a < b {
			n += b - a
		}
	}
	return n
}

func TestFATEmptyIsSmall(t *testing.T) {
	needTool(t, "mkfs.vfat")
	const size = 64 << 20
	img := fsbRandomFile(t, size, 2)
	run(t, "mkfs.vfat", "-F", "32", img)
	used := fsbUsed(t, "vfat", img)
	if n := fsbTotal(used); n > 2<<20 {
		t.Errorf("empty FAT32 keeps %d of %d bytes", n, size)
	}
}

func TestFATRejectsOthers(t *testing.T) {
	b := make([]byte, 4096)
	if fatProbe(bytes.NewReader(b), int64(len(b))) {
		t.Error("zeros probed as FAT")
	}
	copy(b[3:], "NTFS    ")
	b[0], b[510], b[511] = 0xEB, 0x55, 0xAA
	if fatProbe(bytes.NewReader(b), int64(len(b))) {
		t.Error("NTFS-like boot sector probed as FAT")
	}
}

// fsbEOFReader returns io.EOF with every read that reaches its end, full
// or not, as io.ReaderAt allows.
type fsbEOFReader []byte

func (b fsbEOFReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if off+int64(n) == int64(len(b)) {
		return n, io.EOF
	}
	return n, nil
}

func TestReadExactlyAt(t *testing.T) {
	r := fsbEOFReader("0123456789")
	p := make([]byte, 4)
	if err := readExactlyAt(r, p, 6); err != nil || string(p) != "6789" {
		t.Errorf("full read ending at EOF: %q, %v", p, err)
	}
	if err := readExactlyAt(r, p, 8); err != io.ErrUnexpectedEOF {
		t.Errorf("short read: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func FuzzFAT(f *testing.F) {
	fsbFuzzSeeds(f, "vfat")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsbFuzzOne(t, "vfat", data)
	})
}

// fsbSeedImages makes small real filesystems for fuzz seeds; it returns
// none when the tools are missing (the checked-in corpus under
// testdata/fuzz then still seeds the fuzzer).
func fsbSeedImages(t testing.TB, fsName string) []string {
	t.Helper()
	type recipe struct {
		size  int64
		mkfs  []string
		files bool
	}
	var recipes []recipe
	switch fsName {
	case "vfat":
		recipes = []recipe{
			{128 << 10, []string{"mkfs.vfat", "-F", "12"}, true},
			{2200 << 10, []string{"mkfs.vfat", "-F", "16", "-s", "1"}, true},
			{34 << 20, []string{"mkfs.vfat", "-F", "32", "-s", "1"}, true},
		}
	case "ntfs":
		recipes = []recipe{{2 << 20, []string{"mkfs.ntfs", "-F", "-Q", "-q"}, false}}
	case "xfs":
		recipes = []recipe{
			{300 << 20, []string{"mkfs.xfs", "-q", "-f"}, false},
			{300 << 20, []string{"mkfs.xfs", "-q", "-f", "-m", "crc=0"}, false},
		}
	}
	var imgs []string
	dir := t.TempDir()
	for i, rc := range recipes {
		if _, err := exec.LookPath(rc.mkfs[0]); err != nil {
			return nil
		}
		img := filepath.Join(dir, fmt.Sprintf("seed%d.img", i))
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, rc.size); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(rc.mkfs[0], append(rc.mkfs[1:], img)...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%s: %v\n%s", rc.mkfs[0], err, out)
			continue
		}
		if rc.files {
			src := filepath.Join(dir, "hello.txt")
			os.WriteFile(src, bytes.Repeat([]byte("hello "), 200), 0o644)
			for _, args := range [][]string{{"mmd", "-i", img, "::/dir"}, {"mcopy", "-i", img, src, "::/dir/h.txt"}, {"mcopy", "-i", img, src, "::/"}} {
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
				cmd.Run()
			}
		}
		imgs = append(imgs, img)
	}
	return imgs
}

// fsbFuzzSeeds adds, for each seed image, the bytes its reader actually
// reads, as a sparse device (see fsbSparse).
func fsbFuzzSeeds(f *testing.F, fsName string) {
	f.Helper()
	for _, img := range fsbSeedImages(f, fsName) {
		f.Add(fsbRecordReads(f, fsName, img))
	}
}

// fsbRecordReads runs the reader on img and encodes every region it read.
func fsbRecordReads(t testing.TB, fsName, img string) []byte {
	t.Helper()
	file, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rec := &fsbRecorder{r: file}
	fr := fsbReader(t, fsName)
	if fr.probe(rec, st.Size()) {
		if _, err := fr.used(rec, st.Size()); err != nil {
			t.Fatalf("%s on seed %s: %v", fsName, img, err)
		}
	}
	return fsbSparseEncode(st.Size(), rec.read)
}

type fsbRecorder struct {
	r    io.ReaderAt
	read []fsbPatch
}

func (rec *fsbRecorder) ReadAt(p []byte, off int64) (int, error) {
	n, err := rec.r.ReadAt(p, off)
	// Big reads are scans (a FAT, a bitmap, the XFS log) whose start is
	// what a small seed needs; the rest reads back as zeros.
	keep := n
	if keep > 64<<10 {
		keep = 4 << 10
	}
	rec.read = append(rec.read, fsbPatch{off, bytes.Clone(p[:keep])})
	return n, err
}

type fsbPatch struct {
	off  int64
	data []byte
}

// A fuzz input is a sparse device: an 8-byte little-endian size, then
// patches of {8-byte offset, 2-byte length, bytes}; everything else reads
// as zeros. Real filesystems of hundreds of MiB thus fit in a few KiB, and
// mutations land on the metadata the readers parse.
func fsbSparseEncode(size int64, patches []fsbPatch) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(size))
	for _, p := range patches {
		// Split on zero runs: zeros are free in a sparse device.
		for i := 0; i < len(p.data); {
			for i < len(p.data) && p.data[i] == 0 {
				i++
			}
			j := i
			for zeros := 0; j < len(p.data) && zeros < 16 && j-i < 65535; j++ {
				if p.data[j] == 0 {
					zeros++
				} else {
					zeros = 0
				}
			}
			chunk := bytes.TrimRight(p.data[i:j], "\x00")
			if len(chunk) > 0 {
				out = binary.LittleEndian.AppendUint64(out, uint64(p.off)+uint64(i))
				out = binary.LittleEndian.AppendUint16(out, uint16(len(chunk)))
				out = append(out, chunk...)
			}
			i = j
		}
	}
	return out
}

const fsbFuzzMaxDevice = 1 << 30

func fsbSparseDecode(data []byte) (fsbSparse, bool) {
	if len(data) < 8 {
		return fsbSparse{}, false
	}
	s := fsbSparse{size: int64(binary.LittleEndian.Uint64(data) % fsbFuzzMaxDevice)}
	for p := 8; p+10 <= len(data); {
		off := int64(binary.LittleEndian.Uint64(data[p:]) % fsbFuzzMaxDevice)
		n := int(binary.LittleEndian.Uint16(data[p+8:]))
		p += 10
		n = min(n, len(data)-p)
		s.patches = append(s.patches, fsbPatch{off, data[p : p+n]})
		p += n
	}
	return s, true
}

// fsbSparse is a device of size bytes that reads as zeros except for its
// patches.
type fsbSparse struct {
	size    int64
	patches []fsbPatch
}

func (s fsbSparse) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), s.size-off)
	clear(p[:want])
	for _, pa := range s.patches {
		lo, hi := max(off, pa.off), min(off+want, pa.off+int64(len(pa.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], pa.data[lo-pa.off:hi-pa.off])
		}
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return len(p), nil
}

// fsbFuzzOne runs a reader on a hostile sparse device: no panic, and the
// ranges it returns are well formed.
func fsbFuzzOne(t *testing.T, fsName string, data []byte) {
	dev, ok := fsbSparseDecode(data)
	if !ok {
		return
	}
	fr := fsbReader(t, fsName)
	if !fr.probe(dev, dev.size) {
		return
	}
	used, err := fr.used(dev, dev.size)
	if err != nil {
		return
	}
	for _, u := range used {
		if u.Off < 0 || u.Len < 0 {
			t.Fatalf("bad range %+v", u)
		}
	}
}

// TestFsbSeedsFaithful checks that a recorded seed, replayed as a sparse
// device, takes its reader all the way to a map: otherwise the fuzzers
// would only ever mutate inputs that fail early.
func TestFsbSeedsFaithful(t *testing.T) {
	for _, fsName := range []string{"vfat", "ntfs", "xfs"} {
		imgs := fsbSeedImages(t, fsName)
		t.Logf("%s: %d seed images", fsName, len(imgs))
		for _, img := range imgs {
			dev, ok := fsbSparseDecode(fsbRecordReads(t, fsName, img))
			if !ok {
				t.Fatalf("%s: seed does not decode", img)
			}
			fr := fsbReader(t, fsName)
			if !fr.probe(dev, dev.size) {
				t.Fatalf("%s seed %s: probe fails", fsName, img)
			}
			if _, err := fr.used(dev, dev.size); err != nil {
				t.Errorf("%s seed %s: %v", fsName, img, err)
			}
		}
	}
}

// TestFsbWriteCorpus refreshes the checked-in fuzz seeds from real
// filesystems; it runs only when asked to.
func TestFsbWriteCorpus(t *testing.T) {
	if os.Getenv("FSMAP_WRITE_CORPUS") == "" {
		t.Skip("set FSMAP_WRITE_CORPUS=1 to rewrite testdata/fuzz seeds for FuzzFAT, FuzzNTFS, FuzzXFS")
	}
	for fsName, fuzzer := range map[string]string{"vfat": "FuzzFAT", "ntfs": "FuzzNTFS", "xfs": "FuzzXFS"} {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, img := range fsbSeedImages(t, fsName) {
			seed := fsbRecordReads(t, fsName, img)
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(seed)) + ")\n"
			path := filepath.Join(dir, fmt.Sprintf("real%d", i))
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes", path, len(body))
		}
	}
}

func fsbReader(t testing.TB, name string) fsReader {
	t.Helper()
	for _, fr := range readers {
		if fr.name == name {
			return fr
		}
	}
	t.Fatalf("no %q reader registered", name)
	return fsReader{}
}

// fsbRandomFile makes a file of random-looking bytes, as a used disk's free
// space is. A random pattern of odd length repeats, which costs little
// even under -race and matches no filesystem's block size.
func fsbRandomFile(t testing.TB, size int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pat := fsbPattern(seed)
	for off := int64(0); off < size; {
		n, err := f.Write(pat[:min(int64(len(pat)), size-off)])
		if err != nil {
			t.Fatal(err)
		}
		off += int64(n)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func fsbPattern(seed uint64) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	pat := make([]byte, 1<<20+4099)
	rand.NewChaCha8(s).Read(pat)
	return pat
}

// fsbFillPattern fills b with pat as if pat repeated from device offset 0.
func fsbFillPattern(b, pat []byte, off int64) {
	for i := 0; i < len(b); {
		i += copy(b[i:], pat[(off+int64(i))%int64(len(pat)):])
	}
}

// fsbUsed runs the named reader on an image file and returns its map sorted,
// merged and clipped to the file, as the dispatcher would.
func fsbUsed(t testing.TB, fsName, img string) []image.Range {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fr := fsbReader(t, fsName)
	if !fr.probe(f, st.Size()) {
		t.Fatalf("%s probe does not recognise %s", fsName, img)
	}
	used, err := fr.used(f, st.Size())
	if err != nil {
		t.Fatalf("%s used: %v", fsName, err)
	}
	var out []image.Range
	for _, u := range normalize(used) {
		end := min(u.End(), st.Size())
		if u.Off < end {
			out = append(out, image.Range{Off: u.Off, Len: end - u.Off})
		}
	}
	return out
}

func fsbTotal(rs []image.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Len
	}
	return n
}

func fsbLogRatio(t testing.TB, used []image.Range, size int64) {
	t.Helper()
	n := fsbTotal(used)
	t.Logf("kept %d of %d bytes (%.1f%%) in %d ranges", n, size, 100*float64(n)/float64(size), len(used))
}

// fsbScrub copies img, replacing every byte outside used with other random
// bytes: if the filesystem still checks clean and reads back the same
// files, the dropped bytes did not matter.
func fsbScrub(t testing.TB, img string, used []image.Range) string {
	t.Helper()
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "scrubbed.img")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	pat := fsbPattern(99)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < st.Size(); off += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), st.Size()-off)]
		fsbFillPattern(chunk, pat, off)
		for _, u := range used {
			lo, hi := max(u.Off, off), min(u.End(), off+int64(len(chunk)))
			if lo < hi {
				if _, err := src.ReadAt(chunk[lo-off:hi-off], lo); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := dst.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fsbTree writes a deterministic tree under dir/d: nested directories and
// files from empty to maxSize bytes, plus a subdirectory "gone" that tests
// delete after copying it in.
func fsbTree(t testing.TB, files int, maxSize int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(files), uint64(maxSize)))
	for i := range files {
		dir := filepath.Join(root, "d", fmt.Sprintf("sub%d", i%5), fmt.Sprintf("deep%d", i%3))
		if i%4 == 0 {
			dir = filepath.Join(root, "d", "gone")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		n := rng.IntN(maxSize + 1)
		if i%7 == 0 {
			n = 0
		}
		data := make([]byte, n)
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], rng.Uint64())
		rand.NewChaCha8(seed).Read(data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// fsbPrivateNS runs a shell script as root in a mount namespace of its own.
// A mount made in the shared namespace can be copied into any namespace
// another process creates meanwhile (ip netns exec, unshare); umount then
// only detaches it here, the filesystem stays alive there and never writes
// its clean-unmount state. In a private namespace nobody can copy it, and
// the kernel unmounts everything when the script exits, even on failure.
func fsbPrivateNS(t testing.TB, script string, env ...string) string {
	t.Helper()
	needRoot(t)
	needTool(t, "unshare")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-ec", script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s\nscript:\n%s\nenv: %v", err, out, script, env)
	}
	return string(out)
}

// fsbDiffScript compares $WANT with the mounted $DIR/d, file contents
// included, and prints how many files it compared.
const fsbDiffScript = `diff -r --no-dereference "$WANT" "$DIR/d"
echo "compared $(find "$WANT" -type f | wc -l) files"
`

// fsbSameTree compares every regular file under want with the same path
// under got.
func fsbSameTree(t testing.TB, want, got string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(want, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, path)
		a, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("%s differs after scrubbing", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no files compared")
	}
	t.Logf("%d files identical", n)
}

func BenchmarkFATUsed(b *testing.B) {
	fsbBenchUsed(b, "vfat", 4<<30, "mkfs.vfat", "-F", "32")
}

// fsbBenchUsed maps an empty filesystem of size bytes made on a sparse file;
// SetBytes makes the MB/s figure "filesystem bytes mapped per second".
func fsbBenchUsed(b *testing.B, fsName string, size int64, mkfs ...string) {
	needTool(b, mkfs[0])
	img := filepath.Join(b.TempDir(), "bench.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		b.Fatal(err)
	}
	run(b, mkfs[0], append(mkfs[1:], img)...)
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fr := fsbReader(b, fsName)
	b.SetBytes(size)
	b.ResetTimer()
	var kept int64
	for b.Loop() {
		used, err := fr.used(f, size)
		if err != nil {
			b.Fatal(err)
		}
		kept = fsbTotal(normalize(used))
	}
	b.ReportMetric(float64(kept)/float64(size)*100, "%kept")
}
