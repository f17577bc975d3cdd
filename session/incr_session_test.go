package session_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/session"
)

// createFS writes a filesystem-aware image of the ext4 at path to out, as an
// increment against base when base is not nil.
func createFS(t *testing.T, path, out string, base *image.Reader) *image.Reader {
	t.Helper()
	src, err := image.OpenSource(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, _ := os.Open(path)
	fm, err := fsmap.Scan(f, src.Size(), nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	o, _ := os.Create(out)
	cfg := image.CreateConfig{ChunkSize: 256 << 10, Used: fm.Used}
	if base != nil {
		_, _, _, err = image.CreateIncremental(context.Background(), src, base, o, cfg)
	} else {
		_, _, err = image.Create(context.Background(), src, o, cfg)
	}
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	r, err := image.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sendIncremental serves incr on base to the targets at paths in one session over
// real multicast and checks each ends equal to newBytes on the new map's used
// ranges and e2fsck-clean. It returns the sender's and the receivers' results.
func sendIncremental(t *testing.T, incr, base *image.Reader, paths []string, newBytes []byte, port int) (session.SendResult, []session.ReceiveResult) {
	t.Helper()
	spool, err := os.CreateTemp(t.TempDir(), "refs")
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	src, err := session.NewIncrementalSource(incr, base, 1, spool)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sres, res, errs, err := sendToFiles(t, src, incr.Header().ID, paths, port, image.GapZero)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	bm := incr.BlockMap()
	for i, p := range paths {
		if errs[i] != nil {
			t.Fatalf("%s: %v", filepath.Base(p), errs[i])
		}
		got, _ := os.ReadFile(p)
		for _, e := range bm.Extents() {
			if e.End() > int64(len(got)) || !bytes.Equal(got[e.Off:e.End()], newBytes[e.Off:e.End()]) {
				t.Fatalf("%s differs from the new release in [%d,+%d)", filepath.Base(p), e.Off, e.Len)
			}
		}
		if out, err := exec.Command("e2fsck", "-fn", p).CombinedOutput(); err != nil {
			t.Errorf("%s: e2fsck: %v\n%s", filepath.Base(p), err, out)
		}
	}
	t.Logf("session: %d literal + %d reference chunks (%d built: %d B); sent %d B in %d packets: %d data blocks, %d parity, %d announces, %d acks",
		incr.NumChunks(), src.RefChunks(), src.RefsBuilt(), src.RefBytes(), sres.Stats.Bytes, sres.Stats.Packets, sres.Stats.DataBlocks,
		sres.Stats.ParityBlocks, sres.Stats.Announces, sres.Stats.Acks)
	return sres, res
}

// TestIncrementalSession serves an upgrade's increment (mcsend --base): three
// targets holding the base take about the increment and write only what changed;
// then a mixed session (a base holder, an empty and a drifted target) ends with
// every target equal to the new release.
func TestIncrementalSession(t *testing.T) {
	dir := t.TempDir()
	baseFS, newFS := upgradedExt4(t, dir)
	base := createFS(t, baseFS, filepath.Join(dir, "base.dsc"), nil)
	incr := createFS(t, newFS, filepath.Join(dir, "new.dsc"), base)
	st, _ := os.Stat(filepath.Join(dir, "new.dsc"))
	incrSize := st.Size()
	newBytes, _ := os.ReadFile(newFS)
	baseBytes, _ := os.ReadFile(baseFS)
	bm := incr.BlockMap()
	var changed int64
	for i := range bm.Len() {
		for _, r := range bm.Ranges(nil, i) {
			if r.End() > int64(len(baseBytes)) || !bytes.Equal(baseBytes[r.Off:r.End()], newBytes[r.Off:r.End()]) {
				changed += r.Len
			}
		}
	}

	mk := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	holders := []string{mk("base1", baseBytes), mk("base2", baseBytes), mk("base3", baseBytes)}
	sres, res := sendIncremental(t, incr, base, holders, newBytes, 19140)
	ratio := float64(sres.Stats.Bytes) / float64(incrSize)
	t.Logf("3 base holders: the sender sent %d B for an increment of %d B (%.3f x; target 1.1)", sres.Stats.Bytes, incrSize, ratio)
	for i, r := range res {
		t.Logf("base%d: held %d chunks, copied %d relocated blocks, wrote %d B for %d B of changed used bytes (%.3f x)",
			i+1, r.Resume.HeldChunks, r.Resume.Copies.Copied, r.Install.WriteBytes, changed, float64(r.Install.WriteBytes)/float64(changed))
		if float64(r.Install.WriteBytes) > 1.1*float64(changed) {
			t.Errorf("base%d wrote %d B for %d B changed", i+1, r.Install.WriteBytes, changed)
		}
	}
	if ratio > 1.1 {
		t.Errorf("sent %.3f x the increment, want <= 1.1", ratio)
	}

	drift := bytes.Clone(baseBytes)
	rng := rand.New(rand.NewPCG(9, 9))
	for k := 0; k < len(drift)/(16<<10)/10; k++ {
		off := rng.IntN(len(drift) - 4096)
		for j := range 4096 {
			drift[off+j] = byte(rng.Uint32())
		}
	}
	mixed := []string{mk("base4", baseBytes), mk("empty", nil), mk("drifted", drift)}
	sres, res = sendIncremental(t, incr, base, mixed, newBytes, 19141)
	for i, r := range res {
		name := strings.TrimPrefix(mixed[i], dir+"/")
		t.Logf("mixed %-8s held %3d chunks, received %9d B, wrote %9d B", name, r.Resume.HeldChunks, r.Stats.Bytes, r.Install.WriteBytes)
	}
	t.Logf("mixed session: sent %d B (full image of the new release would be about %d B)", sres.Stats.Bytes, incrSize+sresRefBytes(t, incr, base))
}

// sresRefBytes is the size of the reference chunks (what an empty target adds).
func sresRefBytes(t *testing.T, incr, base *image.Reader) int64 {
	var n int64
	if _, err := image.BuildRefChunks(context.Background(), incr, base, 1, 0, func(_ int, c []byte) error { n += int64(len(c)); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
