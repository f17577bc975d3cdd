package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/session"
)

// A receiver's memory is mostly chunks: up to 2·Window+4 partly received or complete
// chunks with their parity (mcast's MaxPartial, 20 by default: ~24 MiB at 1 MiB chunks),
// the transport's receive batches (~16 MiB with GRO) and the installer's window. Go's
// collector then lets the heap grow to twice what is live (GOGC 100). On a machine with
// plenty of memory none of that matters; in a netboot VM of 256 MiB whose disk and CPU
// are slower than the network every partial fills up and mcrecv peaked at 82-94 MiB
// (bench/RESULTS.md, netboot). --memory (default: from the machine's memory) bounds it.
const (
	// smallMemory: below this budget the receiver asks fewer chunks ahead.
	smallMemory = 128 << 20
	// smallWindow is the request window then: MaxPartial 12 instead of 20.
	smallWindow = 4
	// smallRecvPool is the transport's receive buffers then (16 MiB by default with
	// GRO): the backlog waits in the socket buffer instead.
	smallRecvPool = 4 << 20
	// nonHeap is what a budget leaves outside Go's memory limit: the binary's text and
	// data pages and what the runtime keeps beyond it (measured: RSS ~ limit + 6-8 MiB).
	nonHeap = 12 << 20
	// minBudget: below it the collector would run all the time; refused.
	minBudget = 32 << 20
)

// parseMemory reads --memory: "auto" (autoMemory), "0" or "none" (no bound), or a
// size (64m, 96MiB).
func parseMemory(s string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return autoMemory(), nil
	case "0", "none":
		return 0, nil
	}
	n, err := cli.ParseSize(s)
	if err != nil {
		return 0, err
	}
	if n < minBudget {
		return 0, fmt.Errorf("%s is below the least budget of %d MiB", s, minBudget>>20)
	}
	return n, nil
}

// autoMemory is the budget of a machine with little memory: a quarter of it when
// that is below smallMemory·2 (a netboot VM of 256 MiB gets 64 MiB), else none: a
// larger machine does not need mcrecv to trade CPU for memory.
func autoMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	total := memTotal(f)
	if total <= 0 || total/4 >= 2*smallMemory {
		return 0
	}
	return max(total/4, minBudget)
}

// memTotal reads MemTotal from /proc/meminfo's text, in bytes; 0 if absent.
func memTotal(r io.Reader) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kib <= 0 {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}

// applyMemory fits the receiver into budget bytes (0 = no bound): Go's soft memory
// limit (the collector runs sooner instead of letting the heap double) and, for a small
// budget, a smaller request window, so fewer chunks are held at once (no wire change:
// the window is the receiver's own), and smaller receive batches.
func applyMemory(budget int64, cfg *session.ReceiveConfig) {
	if budget <= 0 {
		return
	}
	debug.SetMemoryLimit(budget - nonHeap)
	if budget < smallMemory {
		if cfg.Receiver.Window == 0 {
			cfg.Receiver.Window = smallWindow
		}
		if cfg.UDP.RecvPool == 0 {
			cfg.UDP.RecvPool = smallRecvPool
		}
	}
}
