package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
)

// Message is the one line a person sees for err: interruption said as
// such, and the Go package prefixes ("image: ", "mcast: ") and system-call
// names ("open ", "read ") of the error chain left out. Exit codes never
// depend on this text (see ExitCode); -v prints the chain as it is.
func Message(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	s := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op != "" {
		s = strings.Replace(s, pe.Op+" "+pe.Path+": ", pe.Path+": ", 1)
		if errors.Is(pe.Err, syscall.EBUSY) {
			s += " (mounted, or open exclusively elsewhere?)"
		}
	}
	s = strings.TrimPrefix(s, ErrUsage.Error()+": ")
	for _, p := range []string{"image: ", "mcast: ", "fsmap: ", "session: ", "transport: "} {
		s = strings.TrimPrefix(s, p)
		s = strings.ReplaceAll(s, ": "+p, ": ")
	}
	// "x.dsc: x.dsc: ..." when a caller and a library both named the file.
	if head, rest, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(rest, head+": ") {
		s = rest
	}
	return s
}

// PrintError prints err for the command name: its plain Message, or with
// verbose the whole error chain as Go built it.
func PrintError(w io.Writer, name string, err error, verbose bool) {
	if err == nil {
		return
	}
	if verbose {
		fmt.Fprintf(w, "%s: %s\n    (%v; exit code %d)\n", name, Message(err), err, ExitCode(err))
		return
	}
	fmt.Fprintf(w, "%s: %s\n", name, Message(err))
}
