// Command mcrecv receives a disk image sent by mcsend over IP multicast and
// writes it to TARGET (a disk, partition or file) as chunks arrive, in any
// order. It exits 0 only when every chunk was verified and written.
//
// Its flags follow udpcast's udp-receiver where they mean the same thing.
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

type options struct {
	net                      cli.NetFlags
	file                     string
	startTO, receiveTO       string
	keepImage                string
	gaps                     string
	imageID                  string
	progress, quiet, verbose bool
	statsJSON                string
	key, trust, decrypt      string
	nokbd                    bool
	grow                     bool
	memory                   string
}

func main() {
	stop := cli.StartProfile(os.Stderr)
	stopMem := startMemProfile(os.Stderr)
	rc := run(os.Args[1:], os.Stdout, os.Stderr)
	stopMem()
	stop()
	os.Exit(rc)
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("mcrecv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.net.Register(fs)
	fs.StringVar(&o.file, "file", "", "TARGET, as udp-receiver's --file")
	fs.StringVar(&o.startTO, "start-timeout", "0", "give up when no sender is heard within this many seconds (0 = never)")
	fs.StringVar(&o.receiveTO, "receive-timeout", "60", "once the session began, give up (exit 5) when the sender falls silent or data stops for this many seconds (0 = never)")
	fs.StringVar(&o.keepImage, "image", "", "keep the received image in this file instead of installing it")
	fs.StringVar(&o.gaps, "gaps", "leave", "bytes the image does not hold: leave, zero, or discard (TRIM / punch holes)")
	fs.StringVar(&o.imageID, "image-id", "", "join only the session of this image ID (hex); default: the first heard")
	fs.BoolVar(&o.progress, "progress", false, "always print progress lines (default: a bar on a terminal)")
	fs.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	fs.BoolVar(&o.verbose, "v", false, "log protocol events")
	fs.StringVar(&o.statsJSON, "stats-json", "", "write the session's statistics as JSON to this file")
	fs.StringVar(&o.key, "key", "", "shared secret file (at least 32 random bytes): take only packets authenticated with it, as mcsend --key sends them")
	fs.StringVar(&o.trust, "trust", "", "install only images signed by a key in this file (authorized_keys format, ssh-ed25519)")
	fs.StringVar(&o.decrypt, "decrypt", "", "key file of an encrypted image (mcimage create --encrypt)")
	fs.BoolVar(&o.grow, "grow", false, "fit the image to the disk: enlarge the last partition and its filesystem to fill a larger disk, shrink them onto a smaller one that holds their data (checked after the transfer)")
	fs.StringVar(&o.memory, "memory", "auto", "memory budget (64m, 96MiB; 0 = none): Go's soft memory limit and, below 128 MiB, fewer chunks held at once; auto = a quarter of the machine's memory when that is below 256 MiB")
	fs.BoolVar(&o.nokbd, "nokbd", false, "accepted for udpcast compatibility; mcrecv never reads the keyboard")
	cli.SetUsage(fs, "usage: mcrecv [flags] TARGET\n\nTARGET: a disk, partition or file written in place, or - for stdout.")
	if code, ok := cli.Parse(fs, "mcrecv", args, stdout, stderr); !ok {
		return code
	}
	err := receive(o, fs.Args(), stdout, stderr)
	cli.PrintError(stderr, "mcrecv", err, o.verbose)
	return cli.ExitCode(err)
}

func receive(o options, args []string, stdout, stderr io.Writer) error {
	path := o.file
	switch {
	case path == "" && len(args) == 1:
		path = args[0]
	case path == "" && len(args) == 0 && o.keepImage != "":
	case path != "" && len(args) == 0:
	default:
		return cli.Usagef("want exactly one TARGET (see --help)")
	}
	udp, err := o.net.UDPConfig()
	if err != nil {
		return cli.Usagef("%v", err)
	}
	cfg := session.ReceiveConfig{UDP: udp}
	if o.key != "" {
		if cfg.Receiver.Key, err = cli.ReadSecret("--key", o.key); err != nil {
			return err
		}
	}
	if o.trust != "" {
		if cfg.Trust, err = image.LoadTrustedKeys(o.trust); err != nil {
			return err
		}
	}
	if o.decrypt != "" {
		if cfg.Install.Decrypt, err = image.LoadKey(o.decrypt); err != nil {
			return err
		}
	}
	if cfg.StartTimeout, err = cli.Seconds(o.startTO); err != nil {
		return cli.Usagef("--start-timeout: %v", err)
	}
	if cfg.ReceiveTimeout, err = cli.Seconds(o.receiveTO); err != nil {
		return cli.Usagef("--receive-timeout: %v", err)
	}
	if cfg.Install.Gaps, err = image.ParseGapMode(o.gaps); err != nil {
		return cli.Usagef("--gaps: %v", err)
	}
	budget, err := parseMemory(o.memory)
	if err != nil {
		return cli.Usagef("--memory: %v", err)
	}
	applyMemory(budget, &cfg)
	if o.imageID != "" {
		b, err := hex.DecodeString(o.imageID)
		if err != nil || len(b) != len(cfg.Receiver.SessionID) {
			return cli.Usagef("--image-id: want %d hex digits", 2*len(cfg.Receiver.SessionID))
		}
		copy(cfg.Receiver.SessionID[:], b)
	}
	pr := cli.NewProgress(os.Stderr, cli.ProgressMode(o.quiet, o.progress))
	cfg.Logger = cli.NewLogger(cli.LogWriter(stderr, pr), o.verbose)

	tgt, err := openTarget(path, o.keepImage, stdout)
	if err != nil {
		return err
	}
	defer tgt.close()
	cfg.Sink = tgt.sink
	if ds := tgt.deviceSink(&cfg.Install, o.grow); ds != nil {
		cfg.Sink = ds
	}
	cfg.OnHeader = tgt.prepare
	if tgt.resumable && cfg.Install.Gaps == image.GapLeave {
		// A file an interrupted run left is not emptied (resume): the old bytes in
		// its gaps are punched out, so it reads as a fresh file would.
		cfg.Install.Gaps = image.GapDiscard
	}
	cfg.Install.Grow = tgt.grow

	st := &cli.RecvStatus{Target: tgt.describe(path)}
	cfg.Progress = func(p session.ReceiveProgress) { now := time.Now(); pr.Update(now, false, st.Line(now, p)) }

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := session.ReceiveImage(ctx, tgt.w, cfg)
	err = o.net.NetError(err)
	if err == nil {
		err = tgt.finish(res.Header)
	}
	if err == nil {
		err = tgt.fit(ctx, path, res.Header, o.grow, stderr)
	}
	pr.Done(st.Summary(res.ReceiveProgress, err))
	if o.statsJSON != "" {
		if werr := cli.WriteJSON(o.statsJSON, cli.RecvStats(st, path, res, err)); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
