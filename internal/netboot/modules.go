package netboot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// DefaultModules are the drivers a stock distribution kernel keeps as
// modules and a netbooted machine needs: the NICs and disk controllers of
// virtual machines and common servers, and packet sockets for DHCP.
var DefaultModules = []string{
	"af_packet",
	"virtio_pci", "virtio_net", "virtio_blk",
	"e1000", "e1000e", "igb", "ixgbe",
	"nvme", "ahci", "sd_mod",
}

// Module is one kernel module to put in the initramfs.
type Module struct {
	Name string // as the kernel names it: dashes made underscores
	Path string // the file under the modules directory
}

// ModuleSet is what ResolveModules found: the modules to load, in an
// order where each comes after the modules it depends on, and the wanted
// ones the kernel has built in or lacks.
type ModuleSet struct {
	Load    []Module
	Builtin []string
	Missing []string
}

// maxModuleDeps bounds the dependency walk of a hostile or broken modules.dep.
const maxModuleDeps = 4096

type modIndex struct {
	path map[string]string   // name -> file
	deps map[string][]string // name -> dependency names; nil until read
	dir  string
}

// ResolveModules finds the wanted modules and their dependencies in dir
// (/lib/modules/VERSION). It reads modules.dep when depmod made one and
// otherwise each module's own depends= (an unpacked kernel package has no
// modules.dep). A wanted module the kernel has built in, or does not have,
// is listed, not an error: one module list serves many kernels.
func ResolveModules(dir string, want []string) (ModuleSet, error) {
	var set ModuleSet
	idx, err := loadIndex(dir)
	if err != nil {
		return set, err
	}
	builtin := readBuiltin(filepath.Join(dir, "modules.builtin"))
	seen := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		switch seen[name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("modules: dependency cycle through %s", name)
		}
		if depth > 64 || len(seen) > maxModuleDeps {
			return errors.New("modules: dependency chain too long")
		}
		seen[name] = 1
		deps, err := idx.depsOf(name)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if builtin[d] {
				continue
			}
			if _, ok := idx.path[d]; !ok {
				return fmt.Errorf("modules: %s needs %s, which is missing", name, d)
			}
			if err := visit(d, depth+1); err != nil {
				return err
			}
		}
		seen[name] = 2
		set.Load = append(set.Load, Module{Name: name, Path: idx.path[name]})
		return nil
	}
	for _, w := range want {
		n := modName(w)
		switch {
		case builtin[n]:
			set.Builtin = append(set.Builtin, n)
		case idx.path[n] == "":
			set.Missing = append(set.Missing, n)
		default:
			if err := visit(n, 0); err != nil {
				return set, err
			}
		}
	}
	return set, nil
}

func modName(s string) string {
	s = filepath.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

func loadIndex(dir string) (*modIndex, error) {
	idx := &modIndex{path: map[string]string{}, deps: map[string][]string{}, dir: dir}
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			mod, deps, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			n := modName(mod)
			idx.path[n] = filepath.Join(dir, mod)
			idx.deps[n] = []string{}
			for _, d := range strings.Fields(deps) {
				idx.deps[n] = append(idx.deps[n], modName(d))
			}
		}
		return idx, sc.Err()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	idx.deps = nil
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") && modName(d.Name()) != d.Name() {
			idx.path[modName(d.Name())] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	if len(idx.path) == 0 {
		return nil, fmt.Errorf("modules: no modules under %s", dir)
	}
	return idx, nil
}

func (idx *modIndex) depsOf(name string) ([]string, error) {
	if idx.deps != nil {
		return idx.deps[name], nil
	}
	data, _, err := ModuleData(idx.path[name])
	if err != nil {
		return nil, err
	}
	return modinfoDepends(data)
}

// modinfoDepends reads the depends= entry of a module's .modinfo section.
func modinfoDepends(ko []byte) ([]string, error) {
	ef, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("modules: %w (a compressed module needs modules.dep: run depmod)", err)
	}
	sec := ef.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("modules: no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, modName(d))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

func readBuiltin(path string) map[string]bool {
	m := map[string]bool{}
	data, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for _, l := range strings.Fields(string(data)) {
		m[modName(l)] = true
	}
	return m
}

// maxModuleSize bounds a decompressed module (the largest in-tree modules
// are a few tens of MiB).
const maxModuleSize = 256 << 20

// ModuleData reads a module, decompressing .ko.gz and .ko.zst. A .ko.xz
// stays compressed (xz reports true): init loads it with the kernel's own
// decompressor (finit_module's MODULE_INIT_COMPRESSED_FILE), which kernels
// that ship xz modules have, so mcinitrd needs no xz decoder.
func ModuleData(path string) (data []byte, xz bool, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	var r io.Reader
	switch {
	case strings.HasSuffix(path, ".ko"):
		return raw, false, nil
	case strings.HasSuffix(path, ".ko.xz"):
		return raw, true, nil
	case strings.HasSuffix(path, ".ko.gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	case strings.HasSuffix(path, ".ko.zst"):
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxModuleSize))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, false, fmt.Errorf("%s: not a kernel module", path)
	}
	data, err = io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err == nil && len(data) > maxModuleSize {
		err = errors.New("larger than 256 MiB")
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return data, false, nil
}
