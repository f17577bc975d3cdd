package cli

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Progress shows one status line: redrawn in place on a terminal, printed
// as a plain line every Interval otherwise (logs of netboot scripts), and not
// at all when quiet.
type Progress struct {
	w        io.Writer
	tty      bool
	quiet    bool
	interval time.Duration
	last     time.Time
	width    int
}

// NewProgress writes to f (normally os.Stderr). mode is "auto" (a bar on a
// terminal, lines otherwise), "lines", or "quiet".
func NewProgress(f *os.File, mode string) *Progress {
	p := &Progress{w: f, interval: 5 * time.Second}
	switch mode {
	case "quiet":
		p.quiet = true
	case "lines":
	default:
		p.tty = IsTerminal(f)
		if p.tty {
			p.interval = 200 * time.Millisecond
		}
	}
	return p
}

// Update shows line if its turn has come (or force is set).
func (p *Progress) Update(now time.Time, force bool, line string) {
	if p.quiet || (!force && now.Sub(p.last) < p.interval) {
		return
	}
	p.last = now
	if p.tty {
		pad := max(p.width-len(line), 0)
		p.width = len(line)
		fmt.Fprintf(p.w, "\r%s%*s", line, pad, "")
		return
	}
	fmt.Fprintln(p.w, line)
}

// Done ends the line on a terminal and prints a final summary.
func (p *Progress) Done(line string) {
	if p.quiet {
		return
	}
	if p.tty {
		fmt.Fprint(p.w, "\r")
		pad := max(p.width-len(line), 0)
		fmt.Fprintf(p.w, "%s%*s\n", line, pad, "")
		return
	}
	fmt.Fprintln(p.w, line)
}

// Bar draws a fixed-width bar for fraction f in [0, 1].
func Bar(f float64, width int) string {
	f = min(max(f, 0), 1)
	n := int(f * float64(width))
	b := make([]byte, width)
	for i := range b {
		if i < n {
			b[i] = '#'
		} else {
			b[i] = '.'
		}
	}
	return "[" + string(b) + "]"
}
