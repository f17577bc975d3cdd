package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/netboot"
)

// staticBuild builds the package as a static executable into dir.
func staticBuild(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestBuildInitramfs builds a real initramfs from static mcinitrd and
// mcrecv and reads it back with GNU cpio.
func TestBuildInitramfs(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed (scripts/install-deps.sh)")
	}
	dir := t.TempDir()
	self := staticBuild(t, dir, "github.com/discuscast/discus/cmd/mcinitrd")
	recv := staticBuild(t, dir, "github.com/discuscast/discus/cmd/mcrecv")
	key := filepath.Join(dir, "lab.key")
	os.WriteFile(key, bytes.Repeat([]byte{7}, 32), 0o600)
	out := filepath.Join(dir, "initrd.gz")
	cmd := exec.Command(self, "-o", out, "--mcrecv", recv, "--add", key, "--add", key+":/etc/x/trust")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	list, err := exec.Command("sh", "-c", "zcat '"+out+"' | cpio -t --quiet").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, list)
	}
	for _, want := range []string{"init", "bin/mcrecv", "dev/console", "proc", "sys", "etc/discus/lab.key", "etc/x/trust"} {
		if !strings.Contains("\n"+string(list), "\n"+want+"\n") {
			t.Errorf("no %s in\n%s", want, list)
		}
	}
	if strings.Contains(string(list), "lib/modules") {
		t.Error("modules without --modules")
	}
	ex := t.TempDir()
	if b, err := exec.Command("sh", "-c", "cd '"+ex+"' && zcat '"+out+"' | cpio -i -d --quiet init bin/mcrecv").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for src, dst := range map[string]string{self: "init", recv: "bin/mcrecv"} {
		a, _ := os.ReadFile(src)
		b, _ := os.ReadFile(filepath.Join(ex, dst))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s", dst, src)
		}
	}
}

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	if rc := run([]string{"--help"}, &b); rc != cli.ExitOK || !strings.Contains(b.String(), "discus.target=") {
		t.Fatalf("--help: %d\n%s", rc, b.String())
	}
	b.Reset()
	if rc := run(nil, &b); rc != cli.ExitUsage {
		t.Fatalf("no -o: %d %s", rc, b.String())
	}
	b.Reset()
	if rc := run([]string{"-o", filepath.Join(t.TempDir(), "x"), "--mcrecv", "/nonexistent", "--module", "x"}, &b); rc != cli.ExitUsage {
		t.Fatalf("--module without --modules: %d %s", rc, b.String())
	}
}

func TestRefusesDynamic(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	sh, _ = filepath.EvalSymlinks(sh)
	_, err = netboot.Build(new(bytes.Buffer), netboot.BuildConfig{Init: sh, Receiver: sh})
	if !errors.Is(err, netboot.ErrNotStatic) {
		t.Fatalf("%s accepted: %v", sh, err)
	}
}
