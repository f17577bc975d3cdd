package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/mcast/wire"
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

// WriteJSON writes v to path as indented JSON (--stats-json).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// maxSecretFile bounds what ReadSecret reads: a key file is a few dozen bytes.
const maxSecretFile = 4096

// ReadSecret reads a shared-secret file for --key (at least 32 bytes, e.g.
// `head -c 32 /dev/urandom > lab.key`). Its bytes are used as they are: a
// trailing newline counts, so the same file must reach every node.
func ReadSecret(flag, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, Usagef("%s %s: more than %d bytes; a key file holds a secret of 32 or more random bytes", flag, path, maxSecretFile)
	}
	if len(b) < wire.MinKeyLen {
		return nil, Usagef("%s %s: %d bytes, want at least %d random bytes (head -c 32 /dev/urandom > %s)", flag, path, len(b), wire.MinKeyLen, path)
	}
	return b, nil
}
