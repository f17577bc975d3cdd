// Package netboot is Discus's initramfs: the pieces mcinitrd uses to build
// one (a newc cpio writer, kernel module resolution) and the init that runs
// in it (kernel command line, modules, network, disk, mcrecv).
//
// The kernel command line is the interface: a netboot menu or a PXE
// configuration sets discus.* parameters and nothing else is read.
package netboot

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxCmdline bounds the command line ParseCmdline reads. Kernels take at
// most a few KiB; anything longer is not a kernel's.
const MaxCmdline = 64 << 10

// Then is what init does once the disk is written and verified.
type Then string

const (
	ThenPoweroff Then = "poweroff" // the default: a lab powers machines off to boot them from disk later
	ThenReboot   Then = "reboot"
	ThenShell    Then = "shell" // /bin/sh if one was added with --add, else wait at the console
)

// Config is what the discus.* parameters ask for. The zero value of each
// field means the parameter was absent; Defaults says what that becomes.
type Config struct {
	// Target is the disk to write: an absolute /dev path, or "auto" for
	// the single empty disk. Required: init never guesses a disk it was
	// not told to overwrite, and "auto" refuses to choose between several.
	Target string
	// Addr is the static address and prefix (discus.ip=198.18.0.10/24);
	// invalid (the zero Prefix) means DHCP.
	Addr netip.Prefix
	// Iface is the interface to use; "" means the first Ethernet
	// interface that appears.
	Iface string
	// Group is the multicast group; invalid means mcrecv's default.
	Group netip.Addr
	// Port is mcrecv's --portbase; 0 means mcrecv's default.
	Port int
	// Key and Trust are files in the initramfs (mcinitrd --add) passed as
	// mcrecv's --key and --trust; "" means none.
	Key, Trust string
	// Grow passes mcrecv's --grow: let the last partition take the rest
	// of a disk larger than the image.
	Grow bool
	// Memory is mcrecv's --memory: its memory budget (64m, 96MiB, none, auto); ""
	// means mcrecv's default (auto: a quarter of the machine's memory when that is
	// below 256 MiB, so a small netboot VM needs nothing here).
	Memory string
	// Then is done after success; "" means ThenPoweroff. A failure never
	// does it: init stops with the reason on the console.
	Then Then
}

// ErrCmdline wraps every error ParseCmdline returns.
var ErrCmdline = errors.New("kernel command line")

// ParseCmdline reads the discus.* parameters of a kernel command line
// (the contents of /proc/cmdline) and ignores all others. A discus.*
// parameter it does not know, or a value it cannot use, is an error: a
// typo must stop the machine, not image the wrong disk. A later parameter
// overrides an earlier one, as the kernel's own do, so a boot loader can
// append to a default line.
func ParseCmdline(s string) (Config, error) {
	var c Config
	if len(s) > MaxCmdline {
		return c, fmt.Errorf("%w: longer than %d bytes", ErrCmdline, MaxCmdline)
	}
	words, err := splitCmdline(s)
	if err != nil {
		return c, err
	}
	for _, w := range words {
		if w == "--" {
			break // the rest is for init's argv, not parameters
		}
		key, val, ok := strings.Cut(w, "=")
		if !strings.HasPrefix(key, "discus.") {
			continue
		}
		if !ok {
			return c, fmt.Errorf("%w: %s: want %s=VALUE", ErrCmdline, key, key)
		}
		if err := c.set(strings.TrimPrefix(key, "discus."), val); err != nil {
			return c, fmt.Errorf("%w: %s: %v", ErrCmdline, key, err)
		}
	}
	return c, nil
}

func (c *Config) set(key, val string) error {
	switch key {
	case "target":
		if val != "auto" && !isDevPath(val) {
			return errors.New("want auto or a /dev/ path")
		}
		c.Target = val
	case "ip":
		p, err := netip.ParsePrefix(val)
		if err != nil || !p.Addr().Is4() || p.Bits() < 1 || p.Bits() > 30 {
			return errors.New("want an IPv4 ADDR/PREFIX with a prefix of 1..30")
		}
		if a := p.Addr(); a.IsMulticast() || a.IsLoopback() || a.IsUnspecified() || a == netip.IPv4Unspecified() {
			return errors.New("not a host address")
		}
		c.Addr = p
	case "iface":
		if !isIfname(val) {
			return errors.New("want an interface name (1..15 characters, no '/' or spaces)")
		}
		c.Iface = val
	case "group":
		a, err := netip.ParseAddr(val)
		if err != nil || !a.IsMulticast() || a.Zone() != "" {
			return errors.New("want a multicast address")
		}
		c.Group = a
	case "port":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 65534 {
			return errors.New("want 1..65534")
		}
		c.Port = n
	case "key", "trust":
		if !isAbsPath(val) {
			return errors.New("want an absolute path to a file added with mcinitrd --add")
		}
		if key == "key" {
			c.Key = val
		} else {
			c.Trust = val
		}
	case "grow":
		b, err := parseBool(val)
		if err != nil {
			return err
		}
		c.Grow = b
	case "memory":
		if !isMemory(val) {
			return errors.New("want a size such as 64m or 96MiB, none or auto")
		}
		c.Memory = val
	case "then":
		switch t := Then(val); t {
		case ThenPoweroff, ThenReboot, ThenShell:
			c.Then = t
		default:
			return errors.New("want poweroff, reboot or shell")
		}
	default:
		return errors.New("unknown parameter (see mcinitrd --help)")
	}
	return nil
}

// Defaults fills in what absent parameters mean.
func (c Config) Defaults() Config {
	if c.Then == "" {
		c.Then = ThenPoweroff
	}
	return c
}

// splitCmdline splits as the kernel does: on spaces, with double quotes
// grouping (and removed from) a word. An unterminated quote is an error.
func splitCmdline(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			quoted = !quoted
			inWord = true
		case !quoted && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'):
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		case ch == 0:
			return nil, fmt.Errorf("%w: NUL byte", ErrCmdline)
		default:
			b.WriteByte(ch)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("%w: unterminated quote", ErrCmdline)
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "y", "yes", "true", "on":
		return true, nil
	case "0", "n", "no", "false", "off":
		return false, nil
	}
	return false, errors.New("want 1 or 0")
}

func isAbsPath(p string) bool {
	if len(p) < 2 || len(p) > 255 || p[0] != '/' {
		return false
	}
	for _, part := range strings.Split(p[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return strings.IndexFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) < 0
}

func isDevPath(p string) bool {
	return strings.HasPrefix(p, "/dev/") && isAbsPath(p)
}

func isIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '/' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}

// isMemory accepts what mcrecv's --memory does: auto, none, 0, or digits with an
// optional k, m or g (and i, b) suffix. mcrecv judges the size itself.
func isMemory(v string) bool {
	switch strings.ToLower(v) {
	case "auto", "none", "0":
		return true
	}
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(v), "b"), "i")
	t = strings.TrimRight(t, "kmg")
	if t == "" || len(t) > 12 || len(v)-len(t) > 3 {
		return false
	}
	for _, r := range t {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
