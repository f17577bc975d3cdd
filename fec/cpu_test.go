package fec

import (
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports throughput per CPU-second next to the wall-clock figure:
// on a shared machine wall time measures the neighbours too, while process
// CPU time (GC included) is what the code costs.
type cpuMeter struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU also builds the GF(2^16) tables first, so that one-time cost
// (about 0.3 s) is not charged to whichever benchmark happens to run first.
func startCPU(b *testing.B) cpuMeter {
	b.Helper()
	warmOnce.Do(func() {
		enc, err := NewEncoder(Params{}, make([]byte, 1<<20))
		if err == nil {
			_, err = enc.Block(enc.K())
		}
		if err != nil {
			b.Fatal(err)
		}
	})
	return cpuMeter{start: cpuTime()}
}

var warmOnce sync.Once

// report adds a "cpuMB/s" metric: bytes processed per CPU-second.
func (m cpuMeter) report(b *testing.B, bytesPerOp int) {
	b.Helper()
	used := cpuTime() - m.start
	if used <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(bytesPerOp)*float64(b.N)/used.Seconds()/1e6, "cpuMB/s")
}
