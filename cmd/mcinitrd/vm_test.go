package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNetbootVM runs bench/netboot.sh's dhcp, static and fail runs with a small
// OS tree: a qemu VM (TCG) boots Debian's kernel with mcinitrd's
// initramfs, images its virtio disk from mcsend over a private bridge,
// the disk must equal mcimage extract's output, and the installed system
// must boot; a VM told discus.then=reboot must restart (the kernel's "Restarting
// system", not a hang or a poweroff); and a VM with two empty disks and discus.target=auto must
// refuse and stay stopped. It needs root and qemu-system-x86_64 (scripts/install-deps.sh
// installs it); NETBOOT_VM=0 skips it.
func TestNetbootVM(t *testing.T) {
	if testing.Short() || os.Getenv("NETBOOT_VM") == "0" {
		t.Skip("short mode or NETBOOT_VM=0")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, tap devices)")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed (scripts/install-deps.sh)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "bench/netboot.sh"))
	cmd.Env = append(os.Environ(), "NB_TREE=minimal", "NB_RUNS=dhcp static reboot fail", "NB_TIMEOUT=600",
		"NB_RESULTS="+filepath.Join(dir, "results"), "NB_WORK="+filepath.Join(dir, "work"))
	out, err := cmd.CombinedOutput()
	if sum, rerr := os.ReadFile(filepath.Join(dir, "results", "summary.csv")); rerr == nil {
		t.Logf("summary:\n%s", sum)
	}
	if err != nil {
		t.Fatalf("bench/netboot.sh: %v\n%s", err, out)
	}
}
