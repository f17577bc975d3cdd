package main

import (
	"flag"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

// serveFlags are serve mode's flags (--serve, --idle-timeout) and the status file.
type serveFlags struct {
	serve  bool
	idle   string
	status string
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.serve, "serve", false, "serve the image to whoever joins, for as long as receivers keep coming (udp-sender's --daemon-mode); ends after --idle-timeout")
	fs.BoolVar(&f.serve, "daemon-mode", false, "same as --serve")
	fs.StringVar(&f.idle, "idle-timeout", "0", "with --serve: end after this many seconds with no receiver at work (0 = serve until stopped); exit 0 when every receiver that joined completed")
	fs.StringVar(&f.status, "status", "", "rewrite this JSON file every second with the session's state and every receiver's (address, state, progress, loss, rate, first and last heard)")
}

func (f *serveFlags) apply(cfg *session.SendConfig) error {
	idle, err := cli.Seconds(f.idle)
	if err != nil {
		return cli.Usagef("--idle-timeout: %v", err)
	}
	if idle > 0 && !f.serve {
		return cli.Usagef("--idle-timeout needs --serve")
	}
	cfg.Serve, cfg.IdleTimeout, cfg.StatusFile = f.serve, idle, f.status
	return nil
}
