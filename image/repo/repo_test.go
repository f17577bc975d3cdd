package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/image"
)

// A real ext4 filesystem in, a normal Discus image out: image.Verify
// accepts it, and installed it equals the source on every used byte.
func TestAddExport(t *testing.T) {
	src := makeExt4(t, 1)
	r := newRepo(t, Config{})
	used, st := addFS(t, r, "base", src, "")
	if st.ZeroBlocks == 0 || st.DupBlocks == 0 {
		t.Errorf("want zero and repeated blocks inside one image (dup-a, dup-b): %+v", st)
	}
	if st.NewBlocks+st.DupBlocks+st.ZeroBlocks != st.Blocks {
		t.Errorf("blocks do not add up: %+v", st)
	}
	want, _ := os.ReadFile(src)
	got, h := exportAndInstall(t, r, "base")
	equalOnUsed(t, got, want, used)
	fsck(t, got)
	if h.TargetSize != int64(len(want)) {
		t.Errorf("target size %d, want %d", h.TargetSize, len(want))
	}
	// The repository also reads back through a reopened handle.
	r2, err := Open(r.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := r2.Names(); len(n) != 1 || n[0] != "base" {
		t.Fatalf("names %v", n)
	}
	if _, err := r.Add(context.Background(), "base", bytes.NewReader(want), int64(len(want)), AddOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("adding a name twice: %v", err)
	}
}

// Localized copies of a base cost about what they changed; ls's figures
// say so and add up.
func TestDedupeAndStats(t *testing.T) {
	base := makeExt4(t, 2)
	r := newRepo(t, Config{})
	addFS(t, r, "base", base, "")
	st0, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	baseStored := st0.PackBytes
	for n := 1; n <= 3; n++ {
		loc := localize(t, base, n)
		used, ast := addFS(t, r, "local-"+string(rune('0'+n)), loc, "base")
		if ast.NewBlocks > 8 {
			t.Errorf("local-%d: %d new blocks for a hostname and a key file", n, ast.NewBlocks)
		}
		want, _ := os.ReadFile(loc)
		got, _ := exportAndInstall(t, r, "local-"+string(rune('0'+n)))
		equalOnUsed(t, got, want, used)
	}
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Images) != 4 {
		t.Fatalf("%d images", len(st.Images))
	}
	// The target of issue 12: base + 3 copies ≤ 1.05 × base + 1 MB per copy.
	if lim := int64(float64(st0.TotalBytes())*1.05) + 3<<20; st.TotalBytes() > lim {
		t.Errorf("repository of base + 3 copies: %d bytes, want ≤ %d", st.TotalBytes(), lim)
	}
	t.Logf("base %d bytes stored; base + 3 localized copies %d (packs %d, recipes %d)",
		baseStored, st.TotalBytes(), st.PackBytes, st.RecipeBytes)
	var sum float64
	for _, s := range st.Images {
		if s.Name != "base" && (s.Base != "base" || s.BaseNewBytes <= 0 || s.BaseNewBytes > 64<<10) {
			t.Errorf("%s: base %q, %f bytes new vs base", s.Name, s.Base, s.BaseNewBytes)
		}
		if s.SharedBytes > s.StoredBytes || s.UsedBytes < s.DataBytes {
			t.Errorf("%s: inconsistent %+v", s.Name, s)
		}
		sum += s.StoredBytes - s.SharedBytes
	}
	if st.LiveBytes < sum || st.LiveBytes > float64(st.PackBytes) || st.GarbageBytes > 1 {
		t.Errorf("live %f, unique sum %f, packs %d, garbage %f", st.LiveBytes, sum, st.PackBytes, st.GarbageBytes)
	}
}

// rm then gc frees the blocks only the removed image used, keeps the rest
// intact.
func TestRemoveGC(t *testing.T) {
	a, b := makeExt4(t, 3), makeExt4(t, 4) // different content
	r := newRepo(t, Config{})
	usedA, _ := addFS(t, r, "a", a, "")
	addFS(t, r, "b", b, "")
	before, _ := r.Stats()
	if err := r.Remove("b"); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	mid, _ := r.Stats()
	if mid.GarbageBytes < float64(before.PackBytes)/3 {
		t.Errorf("after rm: %f garbage of %d", mid.GarbageBytes, before.PackBytes)
	}
	gs, err := r.GC(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := r.Stats()
	t.Logf("gc: %+v; packs %d -> %d bytes", gs, before.PackBytes, after.PackBytes)
	if after.GarbageBytes != 0 || after.PackBytes > before.PackBytes*2/3 || gs.FreedBytes <= 0 {
		t.Errorf("gc left %f garbage, packs %d of %d", after.GarbageBytes, after.PackBytes, before.PackBytes)
	}
	want, _ := os.ReadFile(a)
	got, _ := exportAndInstall(t, r, "a")
	equalOnUsed(t, got, want, usedA)
	if _, err := r.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Sharing packs: removing one of two images that share most blocks
	// rewrites nothing it still needs.
	loc := localize(t, a, 1)
	usedA2, _ := addFS(t, r, "a2", loc, "a")
	if err := r.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	want2, _ := os.ReadFile(loc)
	got2, _ := exportAndInstall(t, r, "a2")
	equalOnUsed(t, got2, want2, usedA2)
	fsck(t, got2)
}

// An add that dies at any stage leaves the repository byte for byte as it
// was (apart from files GC removes), and the next add and GC work.
func TestInterruptedAdd(t *testing.T) {
	base := makeExt4(t, 5)
	other := makeExt4(t, 6)
	for _, stage := range []string{"frame", "packs", "recipe"} {
		t.Run(stage, func(t *testing.T) {
			r := newRepo(t, Config{})
			addFS(t, r, "base", base, "")
			before := snapshot(t, r.Dir())
			crashAt = stage
			src, _ := os.ReadFile(other)
			_, err := r.Add(context.Background(), "other", bytes.NewReader(src), int64(len(src)), AddOptions{})
			crashAt = ""
			if !errors.Is(err, errCrash) {
				t.Fatalf("add: %v", err)
			}
			r2, err := Open(r.Dir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			if n := r2.Names(); len(n) != 1 {
				t.Fatalf("names after the crash: %v", n)
			}
			after := snapshot(t, r.Dir())
			for name, b := range before {
				if after[name] != b {
					t.Errorf("%s changed", name)
				}
			}
			if len(after) == len(before) && stage != "frame" {
				t.Errorf("the crash left nothing behind: the test does not test")
			}
			gs, err := r2.GC(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, r.Dir()); len(got) != len(before) {
				t.Errorf("after gc (%+v): %d files, before the add %d", gs, len(got), len(before))
			}
			addFS(t, r2, "other", other, "")
			if _, err := r2.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A failing source ends the add with its error and nothing changed.
func TestAddSourceError(t *testing.T) {
	r := newRepo(t, Config{})
	before := snapshot(t, r.Dir())
	_, err := r.Add(context.Background(), "x", failingReader{at: 5 << 20}, 16<<20, AddOptions{})
	if err == nil {
		t.Fatal("add of a failing source succeeded")
	}
	if after := snapshot(t, r.Dir()); len(after) != len(before) {
		t.Errorf("files left: %v", after)
	}
}

type failingReader struct{ at int64 }

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		return 0, errors.New("disk failed")
	}
	copy(p, randBytes(uint64(off), len(p)))
	return len(p), nil
}

// Damage anywhere is found: a flipped byte in a block, in a recipe, in the
// catalog, a truncated pack. Export never yields an image of wrong bytes.
func TestCorruption(t *testing.T) {
	src := makeExt4(t, 7)
	setup := func(t *testing.T) *Repo {
		r := newRepo(t, Config{})
		addFS(t, r, "base", src, "")
		return r
	}
	one := func(dir, sub string) string {
		m, _ := filepath.Glob(filepath.Join(dir, sub))
		if len(m) != 1 {
			t.Fatalf("%s: %v", sub, m)
		}
		return m[0]
	}
	flip := func(path string, off int64) {
		b, _ := os.ReadFile(path)
		if off < 0 {
			off += int64(len(b))
		}
		b[off] ^= 0x40
		os.WriteFile(path, b, 0o644)
	}
	t.Run("block", func(t *testing.T) {
		r := setup(t)
		flip(one(r.Dir(), "packs/*.pack"), packHeadLen+100) // inside the first frame
		r2, err := Open(r.Dir(), nil)
		if err != nil {
			t.Fatal(err) // the indexes are intact: opening works
		}
		defer r2.Close()
		var buf bytes.Buffer
		if _, _, err := r2.Export(context.Background(), "base", &buf, image.CreateConfig{}); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("export of a damaged block: %v", err)
		}
		if _, err := r2.Verify(context.Background()); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("verify: %v", err)
		}
	})
	t.Run("pack-index", func(t *testing.T) {
		r := setup(t)
		flip(one(r.Dir(), "packs/*.pack"), -packTrLen-10)
		if _, err := Open(r.Dir(), nil); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("truncated-pack", func(t *testing.T) {
		r := setup(t)
		p := one(r.Dir(), "packs/*.pack")
		fi, _ := os.Stat(p)
		os.Truncate(p, fi.Size()-1)
		if _, err := Open(r.Dir(), nil); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("recipe", func(t *testing.T) {
		r := setup(t)
		flip(one(r.Dir(), "images/*.rcp"), 200)
		if _, err := r.OpenDisk("base"); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("open disk: %v", err)
		}
		if _, err := r.Stats(); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("stats: %v", err)
		}
	})
	t.Run("catalog", func(t *testing.T) {
		r := setup(t)
		flip(filepath.Join(r.Dir(), catalogName), 9)
		if _, err := Open(r.Dir(), nil); !errors.Is(err, image.ErrCorrupt) {
			t.Fatalf("open: %v", err)
		}
	})
}

// Block sizes other than the default work the same way.
func TestBlockSizes(t *testing.T) {
	src := makeExt4(t, 8)
	want, _ := os.ReadFile(src)
	for _, bs := range []int{4 << 10, 64 << 10} {
		r := newRepo(t, Config{BlockSize: bs})
		used, _ := addFS(t, r, "base", src, "")
		got, _ := exportAndInstall(t, r, "base")
		equalOnUsed(t, got, want, used)
	}
	if err := Init(t.TempDir(), Config{BlockSize: 3000}); err == nil {
		t.Error("block size 3000 accepted")
	}
}

// An image added with a base stores its recipe as a delta: a localized
// copy's recipe is a few KB. Removing the base keeps what the
// delta needs; damage to the base's recipe is found through the delta.
func TestDeltaRecipe(t *testing.T) {
	base := makeExt4(t, 10)
	r := newRepo(t, Config{})
	addFS(t, r, "base", base, "")
	loc1, loc2 := localize(t, base, 1), localize(t, base, 2)
	used1, st1 := addFS(t, r, "l1", loc1, "base")
	used2, st2 := addFS(t, r, "l2", loc2, "l1") // a delta of a delta
	if st1.RecipeBytes > 4096 || st2.RecipeBytes > 4096 {
		t.Errorf("delta recipes of %d and %d bytes", st1.RecipeBytes, st2.RecipeBytes)
	}
	check := func() {
		t.Helper()
		for _, c := range []struct {
			name, path string
			used       []image.Range
		}{{"l1", loc1, used1}, {"l2", loc2, used2}} {
			want, _ := os.ReadFile(c.path)
			got, _ := exportAndInstall(t, r, c.name)
			equalOnUsed(t, got, want, c.used)
		}
	}
	check()
	if err := r.Remove("base"); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("l1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(r.Dir(), "images", "*.rcp")); len(m) != 3 {
		t.Errorf("after gc %d recipe files, want l2's and the two it derives from", len(m))
	}
	want, _ := os.ReadFile(loc2)
	got, _ := exportAndInstall(t, r, "l2")
	equalOnUsed(t, got, want, used2)
	// Damage the first base's recipe: l2 is refused, not exported wrong.
	rc, _ := r.Recipe("l2")
	p := filepath.Join(r.Dir(), "images", recipeName(rc.chain[len(rc.chain)-1]))
	b, _ := os.ReadFile(p)
	b[len(b)-100] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, err := r.OpenDisk("l2"); !errors.Is(err, image.ErrCorrupt) {
		t.Fatalf("a damaged base recipe: %v", err)
	}
}

// Reads (two exports at once, with read-ahead) go on while the same
// Repo commits adds and a gc: every export is right.
func TestConcurrentReadsAndChanges(t *testing.T) {
	base := makeExt4(t, 11)
	r := newRepo(t, Config{FrameSize: 64 << 10}) // many frames: read-ahead matters
	used, _ := addFS(t, r, "base", base, "")
	want, _ := os.ReadFile(base)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			for range 3 {
				d, err := r.OpenDisk("base")
				if err != nil {
					done <- err
					return
				}
				got := make([]byte, d.Size())
				for off := int64(0); off < d.Size(); off += 1 << 20 {
					if _, err := d.ReadAt(got[off:min(off+1<<20, d.Size())], off); err != nil {
						done <- err
						return
					}
				}
				for _, u := range used {
					if !bytes.Equal(got[u.Off:u.End()], want[u.Off:u.End()]) {
						done <- errors.New("read differs")
						return
					}
				}
			}
			done <- nil
		}()
	}
	for i := range 3 {
		other := makeExt4(t, uint64(20+i))
		addFS(t, r, "other"+string(rune('0'+i)), other, "")
		if err := r.Remove("other" + string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GC(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// A gc that dies after writing its new packs, before its commit, loses
// nothing: the old catalog and packs are intact, and the next gc works.
func TestInterruptedGC(t *testing.T) {
	base := makeExt4(t, 12)
	r := newRepo(t, Config{FrameSize: 64 << 10})
	addFS(t, r, "base", base, "")
	loc := localize(t, base, 1)
	used, _ := addFS(t, r, "local", loc, "base")
	addFS(t, r, "other", makeExt4(t, 13), "")
	// base's pack keeps the blocks local shares: gc must rewrite it.
	if err := r.Remove("base"); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("other"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, r.Dir())
	crashAt = "gc"
	_, err := r.GC(context.Background(), 0)
	crashAt = ""
	if !errors.Is(err, errCrash) {
		t.Fatalf("gc: %v", err)
	}
	after := snapshot(t, r.Dir())
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s changed", name)
		}
	}
	if len(after) <= len(before) {
		t.Error("the interrupted gc wrote nothing: the test does not test")
	}
	r2, err := Open(r.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	want, _ := os.ReadFile(loc)
	got, _ := exportAndInstall(t, r2, "local")
	equalOnUsed(t, got, want, used)
	gs, err := r2.GC(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if gs.StrayFiles == 0 || gs.FreedBytes <= 0 || gs.PacksRewritten == 0 {
		t.Errorf("second gc: %+v", gs)
	}
	got, _ = exportAndInstall(t, r2, "local")
	equalOnUsed(t, got, want, used)
}

// GC merges the small packs that adds of localized copies leave, one per
// copy, and the images stay right.
func TestGCMergesSmallPacks(t *testing.T) {
	base := makeExt4(t, 14)
	r := newRepo(t, Config{})
	addFS(t, r, "base", base, "")
	var used [4][]image.Range
	var locs [4]string
	for i := range locs {
		locs[i] = localize(t, base, i+1)
		used[i], _ = addFS(t, r, "pc-"+string(rune('1'+i)), locs[i], "base")
	}
	if m, _ := filepath.Glob(filepath.Join(r.Dir(), "packs", "*.pack")); len(m) != 5 {
		t.Fatalf("%d packs before gc, want 5", len(m))
	}
	gs, err := r.GC(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(r.Dir(), "packs", "*.pack")); len(m) != 1 || gs.PacksMerged != 5 {
		t.Fatalf("after gc %d packs (%+v), want 1", len(m), gs)
	}
	for i, loc := range locs {
		want, _ := os.ReadFile(loc)
		got, _ := exportAndInstall(t, r, "pc-"+string(rune('1'+i)))
		equalOnUsed(t, got, want, used[i])
	}
	// A second gc has nothing to do.
	if gs, err := r.GC(context.Background(), 0); err != nil || gs.PacksMerged+gs.PacksRewritten+gs.PacksRemoved != 0 {
		t.Fatalf("second gc: %+v, %v", gs, err)
	}
}
