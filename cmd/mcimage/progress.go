package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progress draws a one-line bar on stderr when it is a terminal, at most
// ten times a second, and nothing otherwise.
type progress struct {
	on    bool
	label string
	start time.Time
	mu    sync.Mutex
	last  time.Time
}

func newProgress(label string) *progress {
	return &progress{on: isTerminal(os.Stderr), label: label, start: time.Now()}
}

// update shows done of total bytes (total < 0: unknown).
func (p *progress) update(done, total int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3) / 1e6
	if total <= 0 {
		fmt.Fprintf(os.Stderr, "\r%s %s  %.0f MB/s   ", p.label, human(done), rate)
		return
	}
	const width = 30
	frac := min(float64(done)/float64(total), 1)
	n := int(frac * width)
	fmt.Fprintf(os.Stderr, "\r%s [%s%s] %3.0f%% %s / %s  %.0f MB/s   ", p.label,
		strings.Repeat("#", n), strings.Repeat(" ", width-n), frac*100, human(done), human(total), rate)
}

// done ends the bar's line.
func (p *progress) done() {
	if p.on {
		fmt.Fprintln(os.Stderr)
	}
}
