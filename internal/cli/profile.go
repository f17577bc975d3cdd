package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// StartProfile writes a CPU profile of the whole run to the file named by the
// environment variable DISCUS_CPUPROFILE, if set, so a slow transfer on a real lab
// can be profiled without rebuilding the tools. The returned function stops it.
func StartProfile(stderr io.Writer) func() {
	path := os.Getenv("DISCUS_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "DISCUS_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
