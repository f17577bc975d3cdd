package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// startMemProfile, with DISCUS_MEMPROFILE=FILE, writes a heap profile to FILE each time
// the heap in use reaches a new high (by 1 MiB), so FILE ends as the profile of the
// peak; the stop function prints the peak's figures. It is how the netboot VM's peak
// RSS was taken apart on the host (bench/RESULTS.md, netboot).
func startMemProfile(stderr io.Writer) func() {
	path := os.Getenv("DISCUS_MEMPROFILE")
	if path == "" {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	var peak runtime.MemStats
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.HeapInuse+1<<20 {
				peak = ms
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		fmt.Fprintf(stderr, "DISCUS_MEMPROFILE: peak heap in use %.1f MiB (alloc %.1f, sys %.1f, stacks %.1f, GC goal %.1f MiB)\n",
			mib(peak.HeapInuse), mib(peak.HeapAlloc), mib(peak.Sys), mib(peak.StackInuse), mib(peak.NextGC))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
