package netboot

import (
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Paths inside the initramfs, shared by Build and RunInit.
const (
	ReceiverPath = "/bin/mcrecv"
	ModulesDir   = "/lib/modules/discus" // NNN-name.ko, loaded in name order
	ShellPath    = "/bin/sh"             // used by discus.then=shell when added
	AddDir       = "/etc/discus"         // where --add puts a file given no destination
)

// AddFile is a file copied into the initramfs (mcinitrd --add SRC[:DST]).
type AddFile struct {
	Src, Dst string
}

// ParseAdd reads SRC[:DST]; DST defaults to /etc/discus/BASENAME.
func ParseAdd(s string) (AddFile, error) {
	src, dst, ok := strings.Cut(s, ":")
	if src == "" {
		return AddFile{}, errors.New("--add: want SRC[:DST]")
	}
	if !ok {
		dst = path.Join(AddDir, filepath.Base(src))
	}
	if !isAbsPath(dst) {
		return AddFile{}, fmt.Errorf("--add %s: DST must be an absolute path", s)
	}
	return AddFile{Src: src, Dst: dst}, nil
}

// BuildConfig is what goes into an initramfs.
type BuildConfig struct {
	// Init is the static executable run as /init (mcinitrd itself).
	Init string
	// Receiver is a static mcrecv, installed as ReceiverPath.
	Receiver string
	// Modules are loaded by init in this order; nil for a kernel with
	// its drivers built in.
	Modules []Module
	// Add are further files: keys, trust files, a shell.
	Add []AddFile
}

// BuildStats says what went in.
type BuildStats struct {
	Files        int
	Uncompressed int64 // bytes of the cpio archive
}

// ErrNotStatic is returned for an executable that needs a dynamic loader
// and libraries, which the initramfs does not have.
var ErrNotStatic = errors.New("not a static executable (build it with CGO_ENABLED=0)")

// Build writes the gzip'd newc initramfs to w.
func Build(w io.Writer, cfg BuildConfig) (BuildStats, error) {
	var st BuildStats
	for _, exe := range []string{cfg.Init, cfg.Receiver} {
		if err := checkStatic(exe); err != nil {
			return st, err
		}
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return st, err
	}
	cw := &countWriter{w: zw}
	c := NewCPIOWriter(cw)
	dirs := map[string]bool{}
	mkdirs := func(p string) error {
		var need []string
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			need = append(need, d)
		}
		for i := len(need) - 1; i >= 0; i-- {
			dirs[need[i]] = true
			if err := c.Dir(strings.TrimPrefix(need[i], "/"), 0o755); err != nil {
				return err
			}
		}
		return nil
	}
	addFile := func(dst string, perm uint32, data []byte) error {
		if err := mkdirs(dst); err != nil {
			return err
		}
		st.Files++
		return c.File(strings.TrimPrefix(dst, "/"), perm, data)
	}
	for _, d := range []string{"/dev", "/proc", "/sys", "/tmp", "/etc"} {
		if err := mkdirs(d + "/x"); err != nil {
			return st, err
		}
	}
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	if err := c.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return st, err
	}
	for _, f := range []struct{ src, dst string }{{cfg.Init, "/init"}, {cfg.Receiver, ReceiverPath}} {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return st, err
		}
		if err := addFile(f.dst, 0o755, data); err != nil {
			return st, err
		}
	}
	for i, m := range cfg.Modules {
		data, xz, err := ModuleData(m.Path)
		if err != nil {
			return st, err
		}
		name := fmt.Sprintf("%s/%03d-%s.ko", ModulesDir, i, m.Name)
		if xz {
			name += ".xz"
		}
		if err := addFile(name, 0o644, data); err != nil {
			return st, err
		}
	}
	adds := append([]AddFile(nil), cfg.Add...)
	sort.SliceStable(adds, func(i, j int) bool { return adds[i].Dst < adds[j].Dst })
	for _, a := range adds {
		data, err := os.ReadFile(a.Src)
		if err != nil {
			return st, err
		}
		perm := uint32(0o600) // keys: readable by init only
		if fi, err := os.Stat(a.Src); err == nil && fi.Mode()&0o111 != 0 {
			perm = 0o755
		}
		if err := addFile(a.Dst, perm, data); err != nil {
			return st, fmt.Errorf("--add %s: %w", a.Dst, err)
		}
	}
	if err := c.Close(); err != nil {
		return st, err
	}
	st.Uncompressed = cw.n
	return st, zw.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// checkStatic refuses an executable with a program interpreter.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: %w", p, ErrNotStatic)
		}
	}
	return nil
}
