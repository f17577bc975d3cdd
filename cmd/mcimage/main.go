// Command mcimage creates, inspects, verifies and installs Discus disk
// images (docs/FORMAT.md).
//
//	mcimage create [--chunk-size N] [--level N] [--raw] [--quiet] [--sign KEY] [--encrypt KEYFILE] SRC IMAGE
//	mcimage sign KEY IMAGE [OUT]
//	mcimage info [--decrypt KEYFILE] IMAGE
//	mcimage verify [--trust FILE] [--decrypt KEYFILE] IMAGE
//	mcimage extract [--gaps leave|zero|discard] [--trust FILE] [--decrypt KEYFILE] IMAGE TARGET
//	mcimage repo init|add|ls|export|rm|gc|verify ...  (a partition repository, package image/repo)
//
// SRC is a file, a block device or - (stdin); IMAGE may be - (stdout for
// create, stdin otherwise). Exit status as for mcsend and mcrecv (package
// internal/cli): 0 success, 1 failure, 2 usage, 6 verification failed
// (corrupt image, unsigned or untrusted, wrong key), 7 I/O error.
//
// KEY is an OpenSSH ed25519 private key (ssh-keygen -t ed25519; a
// passphrase comes from $DISCUS_KEY_PASSPHRASE); --trust takes public keys
// in authorized_keys format; KEYFILE holds at least 32 secret bytes
// (head -c 32 /dev/urandom > img.key).
//
// create is filesystem-aware: it reads SRC's partition table and
// filesystems (package image/fsmap) and skips their free space unread;
// --raw images every byte, and stdin is always imaged whole. info reads the
// same metadata back from the image and shows, per partition, its type,
// filesystem, size, used and skipped bytes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/discuscast/discus/internal/cli"
)

const usage = `usage:
  mcimage create [--chunk-size N] [--level N] [--raw] [--quiet] [--workers N] [--sign KEY] [--encrypt KEYFILE] SRC IMAGE
  mcimage sign KEY IMAGE [OUT]
  mcimage info [--decrypt KEYFILE] IMAGE
  mcimage verify [--trust FILE] [--decrypt KEYFILE] IMAGE
  mcimage extract [--gaps leave|zero|discard] [--workers N] [--trust FILE] [--decrypt KEYFILE] IMAGE TARGET
  mcimage repo init|add|ls|export|rm|gc|verify ...   (a partition repository; mcimage repo help)

SRC: file, block device or - (stdin). IMAGE: file or - (stdout for create, stdin otherwise).
create skips the free space of the filesystems it knows (ext2/3/4, FAT, NTFS, XFS, swap); --raw keeps every byte.
Sizes take K, M, G suffixes (binary).
KEY: OpenSSH ed25519 private key (ssh-keygen -t ed25519); passphrase from $DISCUS_KEY_PASSPHRASE.
--trust FILE: authorized_keys-style public keys; unsigned, untrusted or tampered images are refused before any write.
KEYFILE: at least 32 secret bytes (head -c 32 /dev/urandom > img.key); chunks are sealed with XChaCha20-Poly1305.

` + cli.ExitCodesHelp

// errUsage marks command-line mistakes (exit status 2).
var errUsage = cli.ErrUsage

// exitNow ends the command at once with its code: --help or --version was
// given, or a flag was wrong (cli.Parse has said so).
type exitNow int

func (e exitNow) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, usage)
		return cli.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"create":  cmdCreate,
		"sign":    cmdSign,
		"info":    cmdInfo,
		"verify":  cmdVerify,
		"extract": cmdExtract,
		"repo":    cmdRepo,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			fmt.Print(usage)
			return cli.ExitOK
		case "version", "-version", "--version":
			fmt.Print(cli.Version("mcimage"))
			return cli.ExitOK
		}
		fmt.Fprintf(os.Stderr, "mcimage: unknown command %q\nRun 'mcimage --help' for usage.\n", args[0])
		return cli.ExitUsage
	}
	err := cmd(ctx, args[1:])
	if en, ok := errors.AsType[exitNow](err); ok {
		return int(en)
	}
	if errors.Is(err, flag.ErrHelp) {
		return cli.ExitOK // a subcommand that printed its own help
	}
	name := "mcimage " + args[0]
	cli.PrintError(os.Stderr, name, err, false)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", name)
	}
	return cli.ExitCode(err)
}

// parseFlags parses fs and requires exactly n positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, n int, names string) ([]string, error) {
	return parseFlagsRange(fs, args, n, n, names)
}

// parseFlagsRange parses fs (adding --version, showing --help as --flag
// with the exit codes) and requires min..max positional arguments.
func parseFlagsRange(fs *flag.FlagSet, args []string, min, max int, names string) ([]string, error) {
	name := "mcimage " + fs.Name()
	cli.SetUsage(fs, "usage: "+name+" [flags] "+names)
	if code, ok := cli.Parse(fs, name, args, os.Stdout, os.Stderr); !ok {
		return nil, exitNow(code)
	}
	if fs.NArg() < min || fs.NArg() > max {
		return nil, fmt.Errorf("%w: want %s", errUsage, names)
	}
	return fs.Args(), nil
}
