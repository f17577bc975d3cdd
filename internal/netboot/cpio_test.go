package netboot

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestCPIOGolden(t *testing.T) {
	var b bytes.Buffer
	w := NewCPIOWriter(&b)
	if err := w.File("a", 0o644, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "070701" + "00000002" + "000081A4" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000002" + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000" +
		"a\x00" + "hi\x00\x00" +
		"070701" + "00000000" + "00000000" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "0000000B" + "00000000" +
		"TRAILER!!!\x00" + "\x00\x00\x00"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
	if b.Len()%4 != 0 {
		t.Fatal("not aligned")
	}
}

func TestCPIONames(t *testing.T) {
	w := NewCPIOWriter(new(bytes.Buffer))
	for _, n := range []string{"", "/init", "a/../b", "./a", "a//b", "a/"} {
		if err := w.File(n, 0o644, nil); !errors.Is(err, ErrCPIOName) {
			t.Errorf("%q: %v", n, err)
		}
	}
	if err := w.Dir("dev", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := w.Dir("dev", 0o755); !errors.Is(err, ErrCPIOName) {
		t.Fatal("duplicate accepted")
	}
}

// TestCPIOExtract checks the archive against GNU cpio, an independent
// reader of the format.
func TestCPIOExtract(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed (scripts/install-deps.sh)")
	}
	var b bytes.Buffer
	w := NewCPIOWriter(&b)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Dir("bin", 0o755))
	must(w.File("bin/prog", 0o755, bytes.Repeat([]byte("x"), 1001)))
	must(w.File("empty", 0o600, nil))
	must(w.Symlink("sbin", "bin"))
	must(w.CharDev("console", 0o600, 5, 1))
	must(w.Close())
	list, err := runWithStdin(b.Bytes(), "cpio", "-t", "-v", "--quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, list)
	}
	dir := t.TempDir()
	if out, err := runWithStdinDir(b.Bytes(), dir, "cpio", "-i", "-d", "--quiet", "--no-absolute-filenames", "bin/*", "empty", "sbin"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "bin/prog"))
	if err != nil || len(got) != 1001 {
		t.Fatalf("bin/prog: %d bytes, %v", len(got), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/prog")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "sbin")); err != nil || l != "bin" {
		t.Fatalf("symlink %q %v", l, err)
	}
	if !bytes.Contains(list, []byte("console")) || !bytes.Contains(list, []byte("5,")) {
		t.Fatalf("listing lacks the device node:\n%s", list)
	}
	t.Logf("%s (%s bytes)", list, strconv.Itoa(b.Len()))
}

func runWithStdin(in []byte, name string, args ...string) ([]byte, error) {
	return runWithStdinDir(in, "", name, args...)
}

func runWithStdinDir(in []byte, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}
