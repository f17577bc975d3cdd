package netboot

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// CPIOWriter writes a newc ("070701") cpio archive, the format the kernel
// unpacks into its initramfs. Every entry is owned by root and dated 0 so
// the same inputs give the same bytes.
type CPIOWriter struct {
	w     io.Writer
	ino   uint32
	err   error
	off   int64
	names map[string]bool
}

// NewCPIOWriter returns a writer on w; Close writes the trailer.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{w: w, ino: 1, names: map[string]bool{}}
}

// Mode bits of cpio entries (as in stat's st_mode).
const (
	ModeDir     = 0o040000
	ModeFile    = 0o100000
	ModeSymlink = 0o120000
	ModeCharDev = 0o020000
)

// ErrCPIOName is returned for a name the kernel would not unpack where
// asked: empty, absolute, with "." or ".." parts, or given twice.
var ErrCPIOName = errors.New("cpio: bad or duplicate name")

// Dir adds a directory.
func (c *CPIOWriter) Dir(name string, perm uint32) error {
	return c.entry(name, ModeDir|perm&0o7777, 0, 0, nil)
}

// File adds a regular file with the given contents.
func (c *CPIOWriter) File(name string, perm uint32, data []byte) error {
	return c.entry(name, ModeFile|perm&0o7777, 0, 0, data)
}

// Symlink adds a symbolic link to target.
func (c *CPIOWriter) Symlink(name, target string) error {
	return c.entry(name, ModeSymlink|0o777, 0, 0, []byte(target))
}

// CharDev adds a character device node, such as /dev/console, which the
// kernel opens for init before anything has mounted devtmpfs.
func (c *CPIOWriter) CharDev(name string, perm, major, minor uint32) error {
	return c.entry(name, ModeCharDev|perm&0o7777, major, minor, nil)
}

// Close writes the trailer entry. It does not close the underlying writer.
func (c *CPIOWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	c.write(header("TRAILER!!!", 0, 0, 0, 0, 1, 0))
	c.pad()
	return c.err
}

func (c *CPIOWriter) entry(name string, mode, rmajor, rminor uint32, data []byte) error {
	if c.err != nil {
		return c.err
	}
	if !validName(name) || c.names[name] {
		return fmt.Errorf("%w: %q", ErrCPIOName, name)
	}
	if uint64(len(data)) > 0xffffffff {
		return fmt.Errorf("cpio: %s: larger than 4 GiB", name)
	}
	c.names[name] = true
	nlink := uint32(1)
	if mode&0o170000 == ModeDir {
		nlink = 2
	}
	c.ino++
	c.write(header(name, c.ino, mode, rmajor, rminor, nlink, uint32(len(data))))
	c.pad()
	if len(data) > 0 {
		c.write(data)
		c.pad()
	}
	return c.err
}

// header is the 110-byte newc header followed by the NUL-terminated name.
func header(name string, ino, mode, rmajor, rminor, nlink, size uint32) []byte {
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	return append([]byte(h+name), 0)
}

func (c *CPIOWriter) write(b []byte) {
	if c.err != nil || len(b) == 0 {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	c.err = err
}

// pad aligns to 4 bytes, as newc wants after each header+name and data.
func (c *CPIOWriter) pad() {
	if r := c.off % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func validName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || len(name) > 4095 || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for _, p := range strings.Split(name, "/") {
		if p == "" || p == "." || p == ".." {
			return false
		}
	}
	return true
}
