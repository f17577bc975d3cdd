// Command mcsend sends a disk image to any number of receivers over IP
// multicast. SOURCE is a Discus image file, or a raw disk, partition or file
// (or - for standard input) that it turns into chunks on the fly, reading
// only the blocks its filesystems use, or repo:DIR/NAME, an image of a
// partition repository (mcimage repo), built from its blocks into a
// temporary image before it is served so that its block map goes first
// (receivers holding its base take only the chunks they lack).
//
// Its flags follow udpcast's udp-sender where they mean the same thing, so
// netboot scripts can switch with few changes.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

type options struct {
	net                       cli.NetFlags
	file                      string
	minReceivers              int
	minWait, maxWait, startTO string
	receiverTO, linger        string
	maxBitrate, rate          string
	fec                       int
	mtu                       int
	chunkSize                 string
	level                     int
	raw                       bool
	keepGaps                  bool
	base                      string // incr.go
	progress, quiet, verbose  bool
	statsJSON                 string
	key                       string
	nokbd                     bool
	serve                     serveFlags // serve.go
}

func main() {
	stop := cli.StartProfile(os.Stderr)
	rc := run(os.Args[1:], os.Stderr)
	stop()
	os.Exit(rc)
}

func run(args []string, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("mcsend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.net.Register(fs)
	fs.StringVar(&o.file, "file", "", "SOURCE, as udp-sender's --file")
	o.serve.register(fs)
	fs.IntVar(&o.minReceivers, "min-receivers", 1, "hold data back until this many receivers joined")
	cli.StringAlias(fs, "min-clients", "min-receivers")
	fs.StringVar(&o.minWait, "min-wait", "0", "seconds to wait at least before sending data")
	fs.StringVar(&o.maxWait, "max-wait", "0", "seconds after which to start with the receivers there (0 = wait for --min-receivers)")
	fs.StringVar(&o.startTO, "start-timeout", "0", "give up when no receiver joined within this many seconds (0 = never)")
	fs.StringVar(&o.receiverTO, "receiver-timeout", "30", "declare a silent receiver lost after this many seconds")
	fs.StringVar(&o.linger, "linger", "0.5", "keep the session open this many seconds after the last receiver completed")
	fs.StringVar(&o.maxBitrate, "max-bitrate", "", "rate ceiling in bits/s (500m, 900k); with --rate auto the adaptive rate stays below it")
	fs.StringVar(&o.rate, "rate", "auto", "auto (adapt to reported loss) or a fixed rate in bits/s (e.g. 800m)")
	fs.IntVar(&o.fec, "fec", 0, "parity blocks available per chunk for repairs (0 = a quarter of its blocks)")
	fs.IntVar(&o.mtu, "mtu", 1500, "path MTU: 1500, or 9000 for jumbo frames")
	fs.StringVar(&o.chunkSize, "chunk-size", "1m", "chunk size when SOURCE is raw (64k..16m)")
	fs.IntVar(&o.level, "level", 0, "zstd level when SOURCE is raw (0 = fastest)")
	fs.StringVar(&o.base, "base", "", "SOURCE is an increment of `BASE.dsc` (mcimage create --base): serve the new image it rebuilds; receivers holding the base take only what they lack")
	fs.BoolVar(&o.raw, "raw", false, "send every block of a raw SOURCE, ignoring its filesystems")
	fs.BoolVar(&o.keepGaps, "keep-gaps", false, "send a raw SOURCE's unallocated space outside partitions too (default: skipped as free)")
	fs.BoolVar(&o.progress, "progress", false, "always print progress lines (default: a bar on a terminal)")
	fs.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	fs.BoolVar(&o.verbose, "v", false, "log protocol events")
	fs.StringVar(&o.statsJSON, "stats-json", "", "write the session's statistics as JSON to this file")
	fs.StringVar(&o.key, "key", "", "shared secret file (at least 32 random bytes): authenticate every packet; receivers need the same --key")
	fs.BoolVar(&o.nokbd, "nokbd", false, "accepted for udpcast compatibility; mcsend never reads the keyboard")
	cli.SetUsage(fs, "usage: mcsend [flags] SOURCE\n\nSOURCE: a Discus image, a disk, partition or file, - for stdin, or repo:DIR/NAME (an image of a repository, mcimage repo).")
	if code, ok := cli.Parse(fs, "mcsend", args, os.Stdout, stderr); !ok {
		return code
	}
	err := send(o, fs.Args(), stderr)
	cli.PrintError(stderr, "mcsend", err, o.verbose)
	return cli.ExitCode(err)
}

func send(o options, args []string, stderr io.Writer) error {
	src := o.file
	switch {
	case src == "" && len(args) == 1:
		src = args[0]
	case src != "" && len(args) == 0:
	default:
		return cli.Usagef("want exactly one SOURCE (see --help)")
	}
	udp, err := o.net.UDPConfig()
	if err != nil {
		return cli.Usagef("%v", err)
	}
	cfg := session.SendConfig{UDP: udp, MinReceivers: o.minReceivers}
	if o.key != "" {
		if cfg.Sender.Key, err = cli.ReadSecret("--key", o.key); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{{"min-wait", o.minWait, &cfg.MinWait}, {"max-wait", o.maxWait, &cfg.MaxWait},
		{"start-timeout", o.startTO, &cfg.StartTimeout}, {"receiver-timeout", o.receiverTO, &cfg.ReceiverTimeout},
		{"linger", o.linger, &cfg.Linger}} {
		if *d.dst, err = cli.Seconds(d.s); err != nil {
			return cli.Usagef("--%s: %v", d.name, err)
		}
	}
	if err := o.rateConfig(&cfg.Sender); err != nil {
		return err
	}
	if err := o.serve.apply(&cfg); err != nil {
		return err
	}
	if o.mtu < 576 || o.mtu > 65535 {
		return cli.Usagef("--mtu: want 576..65535")
	}
	cfg.Sender.BlockSize = transport.BlockSizeForMTU(o.mtu, udp.Group.Is6(), cfg.Sender.Key != nil)
	cfg.Sender.MaxParity = o.fec

	pr := cli.NewProgress(os.Stderr, cli.ProgressMode(o.quiet, o.progress))
	log := cli.NewLogger(cli.LogWriter(stderr, pr), o.verbose)
	cfg.Logger = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	source, cleanup, err := openSource(ctx, src, o, log)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.Sender.SessionID = source.id

	st := &cli.SendStatus{Header: source.header, BlockSize: cfg.Sender.BlockSize,
		MinReceivers: cfg.MinReceivers, ReceiverTimeout: cfg.ReceiverTimeout}
	if st.ReceiverTimeout == 0 {
		st.ReceiverTimeout = session.DefaultReceiverTimeout
	}
	cfg.Progress = func(p session.SendProgress) { now := time.Now(); pr.Update(now, false, st.Line(now, p)) }

	res, err := session.Send(ctx, source.cs, cfg)
	err = o.net.NetError(err)
	pr.Done(st.Summary(res.SendProgress))
	if o.statsJSON != "" {
		if werr := cli.WriteJSON(o.statsJSON, cli.SendStats(st, source.path, res, time.Now(), err)); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func (o options) rateConfig(sc *mcast.SenderConfig) error {
	if o.maxBitrate != "" {
		r, err := cli.ParseBitrate(o.maxBitrate)
		if err != nil {
			return cli.Usagef("--max-bitrate: %v", err)
		}
		sc.MaxRate = r
	}
	if o.rate != "auto" {
		r, err := cli.ParseBitrate(o.rate)
		if err != nil {
			return cli.Usagef("--rate: %v", err)
		}
		if sc.MaxRate != 0 {
			r = min(r, sc.MaxRate)
		}
		sc.MaxRate, sc.FixedRate = r, true
	}
	return nil
}
