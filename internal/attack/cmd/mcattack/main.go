// Command mcattack is the test suite's hostile LAN host: run inside a test
// network namespace (it refuses to run anywhere else), it joins a Discus
// session's group on both ports, sniffs it and mounts one attack for a
// bounded time, then prints what it did as one JSON line on stdout.
//
//	mcattack --interface e0 --attack forged-data [--variant real-len] [--duration 20s]
//
// Attacks (variants, the first the default): forged-data (own, real-len),
// forged-parity (own, real-len), poison-lengths, hostile-announce (max,
// plus1, meta), fake-done, request-flood (big, small10, small1000),
// bitflip-relay (payload, seq), replay (live, file: --replay FILE), record
// (--record FILE: store a whole session), sniff.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/discuscast/discus/internal/attack"
)

func main() {
	var (
		cfg   attack.Config
		iface = flag.String("interface", "e0", "interface inside the test namespace")
		group = flag.String("group", "239.255.67.83", "the session's multicast group (mcast.DefaultGroup)")
		port  = flag.Int("port", 9000, "the session's data port; control is port+1 (mcast.DefaultPort)")
		wire  = flag.Int("wire", 4, "wire version for packets made before any was heard")
		verb  = flag.Bool("v", false, "log what the attacker learns on stderr")
	)
	flag.StringVar(&cfg.Attack, "attack", "", "the attack to mount")
	flag.StringVar(&cfg.Variant, "variant", "", "the attack's variant (default: its first)")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "longest run")
	flag.DurationVar(&cfg.Quiet, "quiet", 1500*time.Millisecond, "end once the session was silent this long")
	flag.DurationVar(&cfg.Wait, "wait", 20*time.Second, "end if no session is heard within this")
	flag.DurationVar(&cfg.Interval, "interval", 20*time.Millisecond, "between two rounds of the attack")
	flag.DurationVar(&cfg.RecordFor, "record-for", time.Second, "replay live: record this long before replaying")
	flag.StringVar(&cfg.Record, "record", "", "write every packet heard to this file")
	flag.StringVar(&cfg.Replay, "replay", "", "replay file: the recording to replay")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the forged contents")
	flag.StringVar(&cfg.Key, "key", "", "insider: the group's shared secret file (tags forgeries validly)")
	flag.Parse()
	cfg.Wire = byte(*wire)
	if *verb {
		cfg.Log = os.Stderr
	}
	if _, ok := attack.Variants[cfg.Attack]; !ok {
		fmt.Fprintf(os.Stderr, "mcattack: --attack must be one of %v\n", attack.Variants)
		os.Exit(2)
	}
	g, err := netip.ParseAddr(*group)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcattack:", err)
		os.Exit(2)
	}
	if err := attack.CheckPrivate(*iface); err != nil {
		fmt.Fprintln(os.Stderr, "mcattack:", err)
		os.Exit(2)
	}
	n, err := attack.ListenGroup(*iface, g, *port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcattack:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan attack.Result, 1)
	go func() { done <- attack.Run(ctx, n, cfg) }()
	var res attack.Result
	select {
	case res = <-done:
	case <-watchdog(ctx, cfg.Duration):
		// The attack loop did not stop when told: say so (the test then
		// fails on it) with every goroutine's stack, rather than be killed
		// silently.
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "mcattack: stuck:\n%s\n", buf[:runtime.Stack(buf, true)])
		res = attack.Result{Attack: cfg.Attack, Variant: cfg.Variant, Error: "the attack loop did not stop when told"}
	}
	stop()
	n.Close()
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if res.Error != "" {
		os.Exit(1)
	}
}

// watchdog fires 2 s after ctx is done or the duration (plus 2 s) passed.
func watchdog(ctx context.Context, d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		time.Sleep(2 * time.Second)
		close(c)
	}()
	return c
}
