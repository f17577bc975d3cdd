package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/image"
)

// mcimage create/info/verify/extract --base on a real ext4 (made on
// random bytes, so free space is garbage that filesystem-aware creation
// skips) upgraded in place with debugfs.
func TestIncrementalCommands(t *testing.T) {
	needTools(t, "mkfs.ext4", "debugfs", "e2fsck")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	fileTree(t, tree, 6<<20, 1)
	basefs, newfs := filepath.Join(dir, "base.ext4"), filepath.Join(dir, "new.ext4")
	randomFile(t, basefs, 48*mib, 3)
	sh(t, nil, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", tree, basefs)
	b, _ := os.ReadFile(basefs)
	os.WriteFile(newfs, b, 0o644)
	add := filepath.Join(dir, "added")
	randomFile(t, add, 700<<10, 4)
	cmds := filepath.Join(dir, "cmds")
	os.WriteFile(cmds, []byte("rm d1/f001.bin\nwrite "+add+" d1/f001.bin\nwrite "+add+" added\nmkdir moved\nln d2/f002.bin moved/f002.bin\nunlink d2/f002.bin\nrm d3/f003.bin\n"), 0o644)
	sh(t, nil, "debugfs", "-w", "-f", cmds, newfs)
	sh(t, nil, "e2fsck", "-fn", newfs)

	base, full, inc, other := filepath.Join(dir, "base.dsc"), filepath.Join(dir, "full.dsc"), filepath.Join(dir, "inc.dsc"), filepath.Join(dir, "other.dsc")
	out := filepath.Join(dir, "out.ext4")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"create", "--quiet", basefs, base}, 0},
		{[]string{"create", "--quiet", basefs, other}, 0}, // same content, another image ID
		{[]string{"create", "--quiet", newfs, full}, 0},
		{[]string{"create", "--base", base, newfs, inc}, 0},
		{[]string{"info", inc}, 0},
		{[]string{"verify", "--base", base, inc}, 0},
		{[]string{"verify", inc}, 2},
		{[]string{"extract", inc, out}, 2},
		{[]string{"verify", "--base", other, inc}, 6},
		{[]string{"extract", "--base", other, inc, out}, 6},
		{[]string{"extract", "--base", base, inc, out}, 0},
	} {
		if got := run(c.args); got != c.code {
			t.Fatalf("mcimage %v: exit %d, want %d", c.args, got, c.code)
		}
	}
	sh(t, nil, "e2fsck", "-fn", out)
	// Equal on the new disk's used ranges (the full image's block map).
	r, err := image.OpenFile(full)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, _ := os.ReadFile(newfs)
	got, _ := os.ReadFile(out)
	for _, e := range r.BlockMap().Extents() {
		if !bytes.Equal(got[e.Off:e.End()], want[e.Off:e.End()]) {
			t.Fatalf("used range [%d,+%d) differs", e.Off, e.Len)
		}
	}
	// Onto a disk holding the base, --gaps zero clears every byte outside the used
	// ranges: the disk then equals the fresh extract's, which reads zeros there.
	over := filepath.Join(dir, "over.ext4")
	os.WriteFile(over, b, 0o644)
	if code := run([]string{"extract", "--base", base, "--gaps", "zero", inc, over}); code != 0 {
		t.Fatalf("extract --gaps zero onto the base: exit %d", code)
	}
	if ov, _ := os.ReadFile(over); !bytes.Equal(ov, got) {
		t.Fatal("extract --base --gaps zero onto a disk holding the base differs from the fresh extract")
	}
	fi, _ := os.Stat(inc)
	ff, _ := os.Stat(full)
	t.Logf("full image %d B, increment %d B (%.1f %%)", ff.Size(), fi.Size(), 100*float64(fi.Size())/float64(ff.Size()))

	// The same through a repository: export the base, then the new
	// image as an increment against that export.
	rp := filepath.Join(dir, "repo")
	rb, ri, out2 := filepath.Join(dir, "rbase.dsc"), filepath.Join(dir, "rinc.dsc"), filepath.Join(dir, "out2.ext4")
	for _, args := range [][]string{
		{"repo", "init", rp},
		{"repo", "add", "--quiet", rp, "base", basefs},
		{"repo", "add", "--quiet", "--base", "base", rp, "new", newfs},
		{"repo", "export", "--quiet", rp, "base", rb},
		{"repo", "export", rp, "new", ri, "--base", rb},
		{"extract", "--base", rb, ri, out2},
	} {
		if got := run(args); got != 0 {
			t.Fatalf("mcimage %v: exit %d", args, got)
		}
	}
	sh(t, nil, "e2fsck", "-fn", out2)
	got2, _ := os.ReadFile(out2)
	if !bytes.Equal(got2, got) {
		t.Fatal("the repository's increment rebuilds another disk than mcimage create --base's")
	}

	// A damaged increment is refused.
	ib, _ := os.ReadFile(inc)
	ib[len(ib)/3] ^= 1
	os.WriteFile(inc, ib, 0o644)
	if code := run([]string{"extract", "--base", base, inc, out}); code != 6 {
		t.Fatalf("damaged increment: exit %d, want 6", code)
	}
}
