package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// NewLogger logs to w: with verbose, every protocol event as slog text
// (time, level, key=value); without, warnings and errors only, as plain
// lines for people ("warning: receiver lost (node 0a1b..., chunks 12)").
// w is normally the command's Progress, which clears its bar first.
func NewLogger(w io.Writer, verbose bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(&plainHandler{w: w, mu: new(sync.Mutex), level: slog.LevelWarn, lastErr: new(string)})
}

// plainHandler writes a record as one line: its message without the
// package prefix, then its attributes as "key value" in parentheses.
type plainHandler struct {
	w       io.Writer
	mu      *sync.Mutex
	level   slog.Level
	attrs   []slog.Attr
	lastErr *string // the last record's error text, shared by derived handlers
}

func (h *plainHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *plainHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	if i := strings.Index(msg, ": "); i > 0 && i < 12 && !strings.Contains(msg[:i], " ") {
		msg = msg[i+2:] // "mcast: receiver lost" -> "receiver lost"
	}
	var b strings.Builder
	if r.Level < slog.LevelError {
		b.WriteString("warning: ")
	} else {
		b.WriteString("error: ")
	}
	b.WriteString(msg)
	var parts []string
	errText := ""
	add := func(a slog.Attr) bool {
		switch {
		case a.Key == "err":
			errText = Message(errorOf(a.Value))
			parts = append(parts, errText)
		case a.Value.Kind() == slog.KindUint64 && (a.Key == "sender" || a.Key == "node" || a.Key == "receiver"):
			parts = append(parts, a.Key+" "+NodeID(a.Value.Uint64())) // as --stats-json writes node IDs
		default:
			parts = append(parts, strings.ReplaceAll(a.Key, "_", " ")+" "+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	// Layers that pass an error up often log it on the way ("session
	// refused", then "receiver stopped"): say it once.
	last := *h.lastErr
	*h.lastErr = errText
	if errText != "" && last != "" && strings.HasSuffix(errText, last) {
		return nil
	}
	_, err := io.WriteString(h.w, b.String())
	return err
}

func errorOf(v slog.Value) error {
	if e, ok := v.Any().(error); ok {
		return e
	}
	return fmt.Errorf("%v", v)
}

func (h *plainHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

// WithGroup is ignored: plain lines have no nesting.
func (h *plainHandler) WithGroup(string) slog.Handler { return h }
