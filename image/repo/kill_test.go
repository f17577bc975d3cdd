package repo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowReader reads random bytes slowly, so that a killed add dies while
// it is writing a pack.
type slowReader struct{}

func (slowReader) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(2 * time.Millisecond)
	copy(p, randBytes(uint64(off), len(p)))
	return len(p), nil
}

// TestHelperAdd is the process TestKilledAdd kills: it adds a slow 64 MiB
// source to the repository named by $DISCUS_REPO_HELPER.
func TestHelperAdd(t *testing.T) {
	dir := os.Getenv("DISCUS_REPO_HELPER")
	if dir == "" {
		t.Skip("helper process for TestKilledAdd")
	}
	r, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Add(context.Background(), "killed", slowReader{}, 64<<20, AddOptions{Workers: 1})
	t.Fatal("the add finished before it was killed")
}

// An add killed with SIGKILL in the middle of writing its pack leaves the
// repository as it was: same files, same bytes, same images; GC removes
// what it left and the next add works.
func TestKilledAdd(t *testing.T) {
	base := makeExt4(t, 9)
	r := newRepo(t, Config{})
	addFS(t, r, "base", base, "")
	before := snapshot(t, r.Dir())

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAdd$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DISCUS_REPO_HELPER="+r.Dir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child has written frames into a temporary pack.
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(r.Dir(), "packs", ".tmp-pack-*"))
		if len(m) > 0 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 2<<20 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the helper wrote no pack within 60 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	after := snapshot(t, r.Dir())
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s changed", name)
		}
	}
	var left []string
	for name := range after {
		if _, ok := before[name]; !ok {
			left = append(left, name)
		}
	}
	t.Logf("the killed add left %s", strings.Join(left, ", "))
	r2, err := Open(r.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := r2.Names(); len(n) != 1 || n[0] != "base" {
		t.Fatalf("images after the kill: %v", n)
	}
	if _, err := r2.GC(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, r.Dir()); len(got) != len(before) {
		t.Errorf("after gc %d files, before %d", len(got), len(before))
	}
	addFS(t, r2, "again", localize(t, base, 1), "base")
	if _, err := r2.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}
