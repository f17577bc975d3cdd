package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/discuscast/discus/session"
)

func TestMemTotal(t *testing.T) {
	const meminfo = "MemTotal:         230412 kB\nMemFree:          200000 kB\n"
	if got := memTotal(strings.NewReader(meminfo)); got != 230412<<10 {
		t.Fatalf("memTotal = %d", got)
	}
	if got := memTotal(strings.NewReader("MemFree: 1 kB\n")); got != 0 {
		t.Fatalf("no MemTotal: %d", got)
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"64m": 64 << 20, "96MiB": 96 << 20, "0": 0, "none": 0, "1g": 1 << 30} {
		got, err := parseMemory(in)
		if err != nil || got != want {
			t.Errorf("parseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"16m", "lots", "-5m"} {
		if _, err := parseMemory(in); err == nil {
			t.Errorf("parseMemory(%q) accepted", in)
		}
	}
}

// TestApplyMemory: a small budget sets Go's limit, a smaller window and receive pool;
// a large one only the limit; none changes nothing.
func TestApplyMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	var cfg session.ReceiveConfig
	applyMemory(0, &cfg)
	if cfg.Receiver.Window != 0 || cfg.UDP.RecvPool != 0 {
		t.Fatalf("no budget changed %+v", cfg.Receiver)
	}
	applyMemory(64<<20, &cfg)
	if got := debug.SetMemoryLimit(-1); got != 64<<20-nonHeap {
		t.Fatalf("limit %d", got)
	}
	if cfg.Receiver.Window != smallWindow || cfg.UDP.RecvPool != smallRecvPool {
		t.Fatalf("64 MiB: window %d pool %d", cfg.Receiver.Window, cfg.UDP.RecvPool)
	}
	cfg = session.ReceiveConfig{}
	applyMemory(512<<20, &cfg)
	if cfg.Receiver.Window != 0 || cfg.UDP.RecvPool != 0 {
		t.Fatalf("512 MiB: window %d pool %d", cfg.Receiver.Window, cfg.UDP.RecvPool)
	}
}
