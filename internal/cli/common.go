package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Usagef returns a UsageError: the command line was wrong (exit code 2).
func Usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// ProgressMode picks NewProgress's mode from --quiet and --progress.
func ProgressMode(quiet, lines bool) string {
	switch {
	case quiet:
		return "quiet"
	case lines:
		return "lines"
	}
	return "auto"
}

// NewLogger logs as text to w: protocol events with verbose, else warnings
// and errors only.
func NewLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// WriteJSON writes v to path as indented JSON (--stats-json).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
