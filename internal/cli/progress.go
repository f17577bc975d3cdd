package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Progress shows one status line: redrawn in place on a terminal, printed
// as a plain line every Interval otherwise (logs of netboot scripts), and not
// at all when quiet.
type Progress struct {
	mu       sync.Mutex // Update and Done come from the session, Write from its logger
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
	p.mu.Lock()
	defer p.mu.Unlock()
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

// Done ends the line on a terminal and prints a final summary (none if
// line is empty: the error message that follows says it all).
func (p *Progress) Done(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.quiet:
	case p.tty:
		pad := max(p.width-len(line), 0)
		if line == "" {
			pad = p.width
		}
		fmt.Fprintf(p.w, "\r%s%*s\r", line, pad, "")
		if line != "" {
			fmt.Fprintln(p.w)
		}
		p.width = 0
	case line != "":
		fmt.Fprintln(p.w, line)
	}
}

// Write prints log lines (and error messages) between progress lines: on a
// terminal the bar is wiped first and drawn again by the next Update. Quiet
// does not silence it.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
		p.width = 0
	}
	return p.w.Write(b)
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

// LogWriter is where a command's log lines go: through its Progress when
// they share the terminal (so the bar is wiped first), else to stderr as it is.
func LogWriter(stderr io.Writer, p *Progress) io.Writer {
	if f, ok := stderr.(*os.File); ok && f == p.w {
		return p
	}
	return stderr
}
