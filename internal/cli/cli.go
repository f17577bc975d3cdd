// Package cli holds what the Discus commands share: udpcast-compatible
// value syntax, exit codes, and the progress line.
package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Exit codes shared by mcsend and mcrecv; README and --help list them.
const (
	ExitOK          = 0 // data verified complete (mcrecv) / every joined receiver completed (mcsend)
	ExitFailure     = 1 // any other failure
	ExitUsage       = 2 // bad flags or arguments
	ExitStart       = 3 // start timeout: no sender (mcrecv) or no receiver (mcsend) in time
	ExitNoReceivers = 4 // mcsend: fewer than --min-receivers joined before --max-wait
	ExitLost        = 5 // mcsend: a receiver went silent; mcrecv: the sender went silent (--receive-timeout)
	ExitVerify      = 6 // data failed verification, or the image is corrupt
	ExitIO          = 7 // reading the source or writing the target failed (too small, unwritable, full)
)

// ParseBitrate reads a rate the way udpcast's --max-bitrate does: bits per
// second, with an optional k, m or g suffix (powers of 1000). It returns
// bytes per second.
func ParseBitrate(s string) (int64, error) {
	v, err := parseSuffixed(s, 1000)
	if err != nil {
		return 0, fmt.Errorf("bitrate %q: %w", s, err)
	}
	if v < 8 {
		return 0, fmt.Errorf("bitrate %q: too small", s)
	}
	return v / 8, nil
}

// ParseSize reads a byte count with an optional K, M or G suffix (powers of
// 1024; "MiB", "MB" and "m" mean the same), as in --chunk-size 4m.
func ParseSize(v string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(v)), "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a whole number with an optional K, M or G suffix", v)
	}
	return n * mult, nil
}

// SizeFlag is a flag.Value holding a byte count in ParseSize's syntax.
type SizeFlag int64

func (s *SizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }

// Set implements flag.Value.
func (s *SizeFlag) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = SizeFlag(n)
	return nil
}

func parseSuffixed(s string, unit int64) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = unit, t[:n-1]
		case 'm':
			mult, t = unit*unit, t[:n-1]
		case 'g':
			mult, t = unit*unit*unit, t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, errors.New("want a number with an optional k, m or g suffix")
	}
	return int64(f * float64(mult)), nil
}

// Seconds reads a duration given in seconds, as udpcast's timeouts are; a
// Go duration ("90s", "2m") is accepted too.
func Seconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("duration %q: want seconds, e.g. 30 or 1.5", s)
	}
	return d, nil
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// HumanBytes formats a byte count with a binary unit.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
