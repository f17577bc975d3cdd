package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The repo subcommands as a user types them: a real ext4 added raw and
// as a Discus image (the second add stores nothing new), exported,
// verified and extracted back; usage errors exit 2, a missing name 1,
// a damaged repository 6.
func TestRepoCommands(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not installed")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	for i := range 6 {
		os.WriteFile(filepath.Join(tree, fmt.Sprint("f", i)), bytes.Repeat([]byte(fmt.Sprintf("file %d line\n", i)), 50000+i*999), 0o644)
	}
	fsimg := filepath.Join(dir, "fs.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, fsimg, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	repo := filepath.Join(dir, "repo")
	dsc, out, again := filepath.Join(dir, "fs.dsc"), filepath.Join(dir, "out.dsc"), filepath.Join(dir, "out.raw")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"repo", "init", "--block-size", "3K", repo}, 1},
		{[]string{"repo", "init", repo}, 0},
		{[]string{"repo", "init", repo}, 1},
		{[]string{"repo", "add", repo, "base", fsimg}, 0},
		{[]string{"create", "--quiet", fsimg, dsc}, 0},
		{[]string{"repo", "add", repo, "from-image", dsc, "--base", "base"}, 0},
		{[]string{"repo", "add", repo, "base", fsimg}, 1},        // exists
		{[]string{"repo", "add", repo, ".bad", fsimg}, 2},        // name
		{[]string{"repo", "add", repo, "x", fsimg, "--base"}, 2}, // flag without value
		{[]string{"repo", "ls", repo}, 0},
		{[]string{"repo", "export", "--quiet", repo, "from-image", out}, 0},
		{[]string{"verify", out}, 0},
		{[]string{"extract", out, again}, 0},
		{[]string{"repo", "export", repo, "nothing", out + "2"}, 1},
		{[]string{"repo", "rm", repo, "base"}, 0},
		{[]string{"repo", "gc", repo}, 0},
		{[]string{"repo", "verify", repo}, 0},
		{[]string{"repo", "frob", repo}, 2},
		{[]string{"repo", "ls", dir}, 1}, // not a repository
	} {
		if got := run(c.args); got != c.code {
			t.Fatalf("mcimage %v: exit %d, want %d", c.args, got, c.code)
		}
	}
	want, _ := os.ReadFile(fsimg)
	got, _ := os.ReadFile(again)
	if len(got) != len(want) {
		t.Fatalf("extracted %d bytes, want %d", len(got), len(want))
	}
	if out, err := exec.Command("e2fsck", "-fn", again).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
	packs, _ := filepath.Glob(filepath.Join(repo, "packs", "*.pack"))
	b, _ := os.ReadFile(packs[0])
	b[100] ^= 1
	os.WriteFile(packs[0], b, 0o644)
	if code := run([]string{"repo", "export", repo, "from-image", out + "3"}); code != 6 {
		t.Fatalf("export of a damaged repository: exit %d, want 6", code)
	}
}
