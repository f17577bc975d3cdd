package netboot

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveModulesDep(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "modules.dep"), []byte(
		"kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n"+
			"kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"+
			"kernel/net/core/failover.ko:\n"+
			"kernel/drivers/block/virtio_blk.ko.zst:\n"+
			"kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko\n"+
			"kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"+
			"kernel/bad/loop.ko: kernel/bad/loop2.ko\nkernel/bad/loop2.ko: kernel/bad/loop.ko\n"))
	writeFile(t, filepath.Join(dir, "modules.builtin"), []byte("kernel/drivers/scsi/sd_mod.ko\n"))
	set, err := ResolveModules(dir, []string{"virtio_pci", "virtio-net", "virtio_blk", "sd_mod", "ixgbe"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range set.Load {
		names = append(names, m.Name)
	}
	want := []string{"virtio_pci_modern_dev", "virtio_pci", "failover", "net_failover", "virtio_net", "virtio_blk"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("load order %q, want %q", names, want)
	}
	if !reflect.DeepEqual(set.Builtin, []string{"sd_mod"}) || !reflect.DeepEqual(set.Missing, []string{"ixgbe"}) {
		t.Fatalf("builtin %q missing %q", set.Builtin, set.Missing)
	}
	if _, err := ResolveModules(dir, []string{"loop"}); err == nil {
		t.Fatal("cycle accepted")
	}
}

func TestModuleData(t *testing.T) {
	dir := t.TempDir()
	ko := []byte("\x7fELF pretend module")
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(ko)
	zw.Close()
	enc, _ := zstd.NewWriter(&zs)
	enc.Write(ko)
	enc.Close()
	for name, data := range map[string][]byte{"a.ko": ko, "b.ko.gz": gz.Bytes(), "c.ko.zst": zs.Bytes()} {
		p := filepath.Join(dir, name)
		writeFile(t, p, data)
		got, xz, err := ModuleData(p)
		if err != nil || xz || !bytes.Equal(got, ko) {
			t.Errorf("%s: %q %v %v", name, got, xz, err)
		}
	}
	p := filepath.Join(dir, "d.ko.xz")
	writeFile(t, p, []byte("\xfd7zXZ"))
	if got, xz, err := ModuleData(p); err != nil || !xz || len(got) != 5 {
		t.Errorf("xz: %v %v", xz, err)
	}
}

// TestResolveRealModules runs on a real kernel's modules when one is at
// hand (bench/netboot.sh unpacks Debian's into bench/cache/kernel): an
// unpacked package has no modules.dep, so this reads each depends=.
func TestResolveRealModules(t *testing.T) {
	dirs, _ := filepath.Glob("../../bench/cache/kernel/root/lib/modules/*")
	if len(dirs) == 0 {
		t.Skip("no kernel unpacked under bench/cache/kernel (bench/netboot.sh does it)")
	}
	set, err := ResolveModules(dirs[0], DefaultModules)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range set.Load {
		pos[m.Name] = i
	}
	for _, n := range []string{"virtio_net", "virtio_blk", "virtio_pci", "e1000e", "ixgbe", "nvme", "ahci", "sd_mod"} {
		if _, ok := pos[n]; !ok {
			t.Errorf("%s not loaded (builtin %q, missing %q)", n, set.Builtin, set.Missing)
		}
	}
	if pos["net_failover"] > pos["virtio_net"] || pos["libahci"] > pos["ahci"] {
		t.Errorf("dependency after its user: %v", pos)
	}
	t.Logf("%d modules; builtin %q; missing %q", len(set.Load), set.Builtin, set.Missing)
}
