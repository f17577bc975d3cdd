package repo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
)

func textBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"disk ", "image ", "block ", "multicast ", "release ", "the ", "of ", "repository\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func randBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// makeExt4 builds a 32 MiB ext4 filesystem with mkfs.ext4 -d from a tree
// of text and random files, one of them twice (blocks repeated inside
// one image).
func makeExt4(t testing.TB, seed uint64) string {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not installed (e2fsprogs)")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	for i := range 4 {
		os.WriteFile(filepath.Join(tree, fmt.Sprintf("text%d", i)), textBytes(seed+uint64(i), 600<<10+i*1000), 0o644)
		os.WriteFile(filepath.Join(tree, fmt.Sprintf("bin%d", i)), randBytes(seed+uint64(i), 400<<10+i*777), 0o644)
	}
	dup := randBytes(seed+99, 1<<20)
	os.WriteFile(filepath.Join(tree, "dup-a"), dup, 0o644)
	os.WriteFile(filepath.Join(tree, "dup-b"), dup, 0o644)
	os.WriteFile(filepath.Join(tree, "etc", "hostname"), []byte("base\n"), 0o644)
	img := filepath.Join(dir, "fs.ext4")
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, img, "32M").CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return img
}

// localize copies the filesystem at src and changes it as a cloned
// machine would (debugfs writes a new hostname and a key file).
func localize(t testing.TB, src string, n int) string {
	t.Helper()
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Skip("debugfs not installed (e2fsprogs)")
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "local.ext4")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dst, b, 0o644)
	host := filepath.Join(dir, "hostname")
	os.WriteFile(host, fmt.Appendf(nil, "machine-%d\n", n), 0o644)
	key := filepath.Join(dir, "key")
	os.WriteFile(key, randBytes(uint64(1000+n), 3000), 0o600)
	cmds := fmt.Sprintf("rm /etc/hostname\nwrite %s /etc/hostname\nwrite %s /etc/host_key\n", host, key)
	cmd := exec.Command("debugfs", "-w", "-f", "-", dst)
	cmd.Stdin = bytes.NewBufferString(cmds)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	return dst
}

func newRepo(t testing.TB, cfg Config) *Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := Init(dir, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// addFS adds the filesystem at path as mcimage repo add does: only the
// used ranges fsmap finds. It returns them.
func addFS(t testing.TB, r *Repo, name, path, base string) ([]image.Range, AddStats) {
	t.Helper()
	src, m, err := fsmap.OpenSource(path, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if m == nil {
		t.Fatal("no filesystem map")
	}
	st, err := r.AddSource(context.Background(), name, src, AddOptions{Used: m.Used, Base: base, Source: path})
	if err != nil {
		t.Fatalf("add %s: %v", name, err)
	}
	return m.Used, st
}

// exportAndInstall exports name, checks the image with image.Verify and
// installs it onto a file, which it returns.
func exportAndInstall(t testing.TB, r *Repo, name string) ([]byte, *image.Header) {
	t.Helper()
	var buf bytes.Buffer
	h, _, err := r.Export(context.Background(), name, &buf, image.CreateConfig{ChunkSize: image.MinChunkSize})
	if err != nil {
		t.Fatalf("export %s: %v", name, err)
	}
	ir, err := image.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("open exported %s: %v", name, err)
	}
	if err := image.Verify(context.Background(), ir, image.InstallConfig{}); err != nil {
		t.Fatalf("verify exported %s: %v", name, err)
	}
	path := filepath.Join(t.TempDir(), "target")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, err := image.NewInstaller(f, ir.Header(), image.InstallConfig{Grow: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ir.NumChunks() {
		c, err := ir.Chunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Put(context.Background(), c); err != nil {
			t.Fatalf("put chunk %d: %v", i, err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out, h
}

// equalOnUsed fails unless got and want agree on every used byte.
func equalOnUsed(t testing.TB, got, want []byte, used []image.Range) {
	t.Helper()
	for _, u := range used {
		end := u.End()
		if end > int64(len(want)) || end > int64(len(got)) {
			t.Fatalf("range %d+%d beyond %d/%d bytes", u.Off, u.Len, len(got), len(want))
		}
		if !bytes.Equal(got[u.Off:end], want[u.Off:end]) {
			t.Fatalf("range %d+%d differs", u.Off, u.Len)
		}
	}
}

func fsck(t testing.TB, disk []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fsck.ext4")
	os.WriteFile(p, disk, 0o644)
	if out, err := exec.Command("e2fsck", "-fn", p).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
}

// snapshot is every file of a repository directory and its bytes.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Name() == "lock" {
			return nil
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = string(b)
		return nil
	})
	return m
}
