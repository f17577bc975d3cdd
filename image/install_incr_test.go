package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// incrReceive plays a receiver of an incremental session (docs/PROTOCOL.md
// §3.9) without a network: target (a file holding whatever it holds) is
// hashed against the new map, relocated blocks are copied on it, and only the
// chunks it does not hold are put, literal and reference alike. It returns the
// encoded bytes put (what the session would carry for this receiver) and the
// stats.
func incrReceive(t *testing.T, incr, base *Reader, target string, gaps GapMode) (int64, InstallStats, CopyStats) {
	t.Helper()
	ctx := context.Background()
	f, err := os.OpenFile(target, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := incr.Header()
	if _, err := NewInstaller(f, h, InstallConfig{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("installer of an increment without Incremental: %v, want ErrVersion", err)
	}
	in, err := NewInstaller(f, h, InstallConfig{Incremental: true, Gaps: gaps})
	if err != nil {
		t.Fatal(err)
	}
	bm := incr.BlockMap()
	nref, err := in.SetBlockMap(bm)
	if err != nil {
		t.Fatal(err)
	}
	in.AwaitPresent()
	match, _, err := HashTarget(ctx, f, bm, 2)
	if err != nil {
		t.Fatal(err)
	}
	cst, err := CopyRelocated(ctx, f, bm, match, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.SetPresent(bm, match); err != nil {
		t.Fatal(err)
	}
	heldLit := bm.HeldChunks(match)
	layout, _ := bm.RefLayout(int(h.ChunkSize))
	heldRef := layout.Held(match)
	var wire int64
	for i := range incr.NumChunks() {
		if heldLit[i] {
			if _, err := in.Held(i, bm); err != nil {
				t.Fatal(err)
			}
			continue
		}
		_, c, err := incr.VerifyChunk(i, nil)
		if err != nil {
			t.Fatal(err)
		}
		wire += int64(len(c))
		if err := in.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for j, ok := range heldRef {
		if ok {
			if _, err := in.HeldRef(j); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := BuildRefChunks(ctx, incr, base, 1, 2, func(j int, c []byte) error {
		if heldRef[j] {
			return nil
		}
		wire += int64(len(c))
		// A reference chunk with one flipped payload byte is refused, never written.
		bad := append([]byte(nil), c...)
		bad[len(bad)-1] ^= 1
		if err := in.Put(ctx, bad); err == nil {
			t.Fatalf("damaged reference chunk %d accepted", j)
		}
		return in.Put(ctx, c)
	})
	if err != nil || n != nref {
		t.Fatalf("BuildRefChunks: %d chunks (layout %d), %v", n, nref, err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	return wire, in.Stats(), cst
}

// equalOnUsed fails unless got equals want on the map's used extents.
func equalOnUsed(t *testing.T, bm *BlockMap, got, want []byte) {
	t.Helper()
	for _, e := range bm.Extents() {
		if string(got[e.Off:e.End()]) != string(want[e.Off:e.End()]) {
			t.Fatalf("target differs from the new disk in [%d,+%d)", e.Off, e.Len)
		}
	}
}

// An ext4 upgraded in place, sent as its increment: a target holding the
// base takes only the increment's chunks and writes only changed blocks; an
// empty target and a drifted one take what they lack; all end equal to the
// new disk on its used ranges (an empty one, with GapZero, everywhere).
func TestIncrementalSessionExt4(t *testing.T) {
	basePath := makeExt4(t)
	newPath := upgradeExt4(t, basePath)
	want, _ := os.ReadFile(newPath)
	baseBytes, _ := os.ReadFile(basePath)
	cfg := CreateConfig{ChunkSize: 256 << 10}
	bsrc, _ := OpenSource(basePath)
	baseImg, _, _ := createImage(t, bsrc, cfg)
	bsrc.Close()
	base := openImage(t, baseImg)
	incrImg, _, ist := createIncr(t, newPath, base, cfg)
	incr := openImage(t, incrImg)
	bm := incr.BlockMap()
	if !bm.IsIncrement() {
		t.Fatal("increment's map has no increment section")
	}
	dir := t.TempDir()

	holder := filepath.Join(dir, "holder")
	os.WriteFile(holder, baseBytes, 0o644)
	wire, st, cst := incrReceive(t, incr, base, holder, GapLeave)
	got, _ := os.ReadFile(holder)
	equalOnUsed(t, bm, got, want)
	fsck(t, holder)
	var changed int64
	for i := range bm.Len() {
		for _, r := range bm.Ranges(nil, i) {
			if string(baseBytes[r.Off:r.End()]) != string(want[r.Off:r.End()]) {
				changed += r.Len
			}
		}
	}
	t.Logf("base holder: received %d B for an increment of %d B (%.3f x), wrote %d B (+%d B copied locally, %d of %d relocations) for %d B of changed used bytes; %d literal, %d relocated blocks",
		wire, len(incrImg), float64(wire)/float64(len(incrImg)), st.WriteBytes, cst.Bytes, cst.Copied, cst.Candidates, changed, ist.LiteralBlocks, ist.Relocated)
	if wire > int64(len(incrImg)) {
		t.Errorf("base holder received %d B, more than the increment's %d B", wire, len(incrImg))
	}
	if st.WriteBytes+cst.Bytes > changed+int64(cst.Copied)*int64(bm.BlockSize()) {
		t.Errorf("base holder wrote %d B + %d B copied for %d B changed", st.WriteBytes, cst.Bytes, changed)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, make([]byte, len(want)), 0o644)
	wire, _, _ = incrReceive(t, incr, base, empty, GapZero)
	got, _ = os.ReadFile(empty)
	equalOnUsed(t, bm, got, want)
	fsck(t, empty)
	t.Logf("empty target: received %d B (full image of the base %d B)", wire, len(baseImg))

	drifted := filepath.Join(dir, "drifted")
	d := append([]byte(nil), baseBytes...)
	for k := 0; k < len(d); k += 300 << 10 {
		d[k+7] ^= 0x5a
	}
	os.WriteFile(drifted, d, 0o644)
	wire, _, _ = incrReceive(t, incr, base, drifted, GapLeave)
	got, _ = os.ReadFile(drifted)
	equalOnUsed(t, bm, got, want)
	t.Logf("drifted target: received %d B", wire)
}

// Blocks of a base in reverse order (every relocation a 2-cycle): a target
// holding the base copies them all in place, breaking each cycle with one
// block in memory, and receives only the one new block's chunk; with no
// memory for cycles it gets half of them over the network instead.
func TestIncrementalSessionRelocated(t *testing.T) {
	const bs = 16 << 10
	old, nw := reversedBlocks(1, 2<<20)
	n := len(old) / bs
	dir := t.TempDir()
	base, _, img, _ := relocatedImages(t, dir, old, nw)
	incr := openImage(t, img)
	if got := len(incr.BlockMap().Relocations()); got != n {
		t.Fatalf("%d relocations, want %d", got, n)
	}
	holder := filepath.Join(dir, "holder")
	os.WriteFile(holder, append(old, make([]byte, bs)...), 0o644)
	wire, st, cst := incrReceive(t, incr, base, holder, GapLeave)
	got, _ := os.ReadFile(holder)
	mustEqual(t, got, nw)
	t.Logf("reversed base: %d copies (%d buffered), received %d B, wrote %d B from chunks; increment %d B", cst.Copied, cst.Buffered, wire, st.WriteBytes, len(img))
	if cst.Copied != n || wire > int64(len(img)) {
		t.Errorf("copied %d of %d, received %d B for an increment of %d B", cst.Copied, n, wire, len(img))
	}
}
