package cli

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/session"
)

// UsageError marks a problem with the command line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// ErrEmptySource is a SRC of no bytes: most often a loop or disk device
// with nothing attached, whose image would hold nothing (exit code 7).
var ErrEmptySource = errors.New("source holds no bytes (a loop or disk device with nothing attached?)")

// ExitCode maps an error to the documented exit codes.
func ExitCode(err error) int {
	var ue *UsageError
	var pe *fs.PathError
	var errno syscall.Errno
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, session.ErrStartTimeout):
		return ExitStart
	case errors.Is(err, session.ErrNoReceivers):
		return ExitNoReceivers
	case errors.Is(err, session.ErrReceiversLost), errors.Is(err, session.ErrSenderLost):
		return ExitLost
	case errors.Is(err, image.ErrCorrupt), errors.Is(err, image.ErrTruncated),
		errors.Is(err, image.ErrForeignImage), errors.Is(err, image.ErrIncomplete),
		errors.Is(err, image.ErrVersion), errors.Is(err, image.ErrUnsigned), errors.Is(err, image.ErrWrongBase),
		errors.Is(err, image.ErrUntrusted), errors.Is(err, image.ErrManifest),
		errors.Is(err, image.ErrKey):
		return ExitVerify
	case errors.Is(err, image.ErrTargetTooSmall), errors.Is(err, ErrEmptySource), errors.As(err, &pe), errors.As(err, &errno):
		return ExitIO
	case errors.Is(err, context.Canceled):
		return ExitFailure
	}
	return ExitFailure
}

// ExitCodesHelp is the table printed by every --help (README has the same).
const ExitCodesHelp = `Exit codes (the same for mcimage, mcsend and mcrecv):
  0  success: mcrecv's target verified complete; every receiver that joined
     mcsend completed; mcimage's command done
  1  other failure, or interrupted (Ctrl-C, SIGTERM)
  2  bad usage: unknown flag, bad value, wrong arguments, no such interface
  3  start timeout: no receiver (mcsend) or no sender (mcrecv) within
     --start-timeout
  4  mcsend: fewer than --min-receivers joined before --max-wait
  5  receivers lost (mcsend); mcrecv: the sender stopped or gave up, or
     fell silent for --receive-timeout (a corrupt image it gave up on is 6)
  6  verification failed: corrupt image or data, unsigned or untrusted image,
     wrong key, incomplete transfer
  7  I/O error: source missing or unreadable, target too small (refused
     before the first write), unwritable or full
`
