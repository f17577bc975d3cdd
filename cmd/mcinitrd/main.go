// Command mcinitrd writes a netboot initramfs that images a machine with
// mcrecv: a gzip'd newc archive whose /init (mcinitrd itself, a static Go
// binary) loads the NIC and disk drivers, brings up the network, runs a
// static mcrecv onto the target disk and powers off. It needs no busybox,
// DNS or configuration files: the kernel command line says what to do.
//
// When it runs as process 1 it is that init.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/netboot"
)

const cmdlineHelp = `Kernel command line (the initramfs's whole interface):
  discus.target=/dev/vda  the disk to write (required); auto: the single empty
                          disk (first and last MiB zero), refusing to choose
                          between several
  discus.ip=ADDR/PREFIX   static IPv4 address (default: DHCP)
  discus.iface=NAME       interface (default: the first Ethernet interface)
  discus.group=ADDR       multicast group (default: mcrecv's)
  discus.port=N           mcrecv --portbase (default: mcrecv's)
  discus.key=/PATH        mcrecv --key, a file added with --add
  discus.trust=/PATH      mcrecv --trust, a file added with --add
  discus.grow=1           mcrecv --grow: the last partition takes the rest of a
                          larger disk
  discus.memory=SIZE      mcrecv --memory: its budget (64m; none; default auto:
                          a quarter of the machine's memory when below 256 MiB)
  discus.then=poweroff|reboot|shell
                          after success (default poweroff); shell runs /bin/sh
                          if one was added (--add busybox:/bin/sh)
Progress and the outcome ("DISCUS OK" or "DISCUS FAILED: reason") go to the
console. A failure never reboots: init stops there, so a half-written disk
is not booted. An unknown discus.* parameter is a failure too.
`

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if os.Getpid() == 1 {
		netboot.RunInit()
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	var out, modules, receiver string
	var adds, extra listFlag
	var noDefault bool
	fs := flag.NewFlagSet("mcinitrd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&out, "o", "", "write the initramfs (gzip'd newc cpio) to this file")
	fs.StringVar(&modules, "modules", "", "/lib/modules/VERSION of the kernel to boot (default: include no modules, for a kernel with its drivers built in)")
	fs.Var(&extra, "module", "another module to include, with its dependencies (repeatable)")
	fs.BoolVar(&noDefault, "no-default-modules", false, "include only the --module ones, not the default NIC and disk drivers")
	fs.Var(&adds, "add", "SRC[:DST]: copy a file into the initramfs (default DST /etc/discus/BASENAME; repeatable)")
	fs.StringVar(&receiver, "mcrecv", "", "static mcrecv to include (default: mcrecv beside this mcinitrd, then on $PATH)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: mcinitrd -o initrd.gz [--modules /lib/modules/VERSION] [--add FILE...]\n\nFlags:\n")
		cli.PrintFlags(w, fs)
		fmt.Fprintf(w, "\nDefault modules (with dependencies, when --modules is given): %s\n\n%s\n%s",
			strings.Join(netboot.DefaultModules, " "), cmdlineHelp, cli.ExitCodesHelp)
	}
	if code, ok := cli.Parse(fs, "mcinitrd", args, stderr, stderr); !ok {
		return code
	}
	err := build(out, modules, receiver, adds, extra, noDefault, stderr)
	cli.PrintError(stderr, "mcinitrd", err, false)
	return cli.ExitCode(err)
}

func build(out, modules, receiver string, adds, extra []string, noDefault bool, stderr io.Writer) error {
	if out == "" {
		return cli.Usagef("-o FILE is required (see --help)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if receiver == "" {
		if receiver, err = findReceiver(self); err != nil {
			return err
		}
	}
	cfg := netboot.BuildConfig{Init: self, Receiver: receiver}
	for _, a := range adds {
		f, err := netboot.ParseAdd(a)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		cfg.Add = append(cfg.Add, f)
	}
	if modules != "" {
		want := append([]string(nil), extra...)
		if !noDefault {
			want = append(append([]string(nil), netboot.DefaultModules...), extra...)
		}
		set, err := netboot.ResolveModules(modules, want)
		if err != nil {
			return err
		}
		cfg.Modules = set.Load
		fmt.Fprintf(stderr, "mcinitrd: %d modules from %s; built in: %s; not in this kernel: %s\n",
			len(set.Load), modules, orNone(set.Builtin), orNone(set.Missing))
	} else if len(extra) > 0 {
		return cli.Usagef("--module needs --modules DIR")
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".mcinitrd-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	st, err := netboot.Build(f, cfg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(f.Name())
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "mcinitrd: wrote %s: %s (%s uncompressed, %d files, mcrecv %s)\n",
		out, cli.HumanBytes(fi.Size()), cli.HumanBytes(st.Uncompressed), st.Files, receiver)
	return nil
}

func findReceiver(self string) (string, error) {
	p := filepath.Join(filepath.Dir(self), "mcrecv")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := execLookPath("mcrecv"); err == nil {
		return p, nil
	}
	return "", cli.Usagef("no mcrecv beside %s or on $PATH: give --mcrecv (a static one: CGO_ENABLED=0 go build ./cmd/mcrecv)", self)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
