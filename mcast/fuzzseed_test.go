package mcast

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz/*/sample-* from samplePackets when
// MCAST_WRITE_SEEDS=1 (run it after a wire format change).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MCAST_WRITE_SEEDS") != "1" {
		t.Skip("set MCAST_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	pk := samplePackets()
	names := make([]string, 0, len(pk))
	for n := range pk {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, fz := range []string{"FuzzParse", "FuzzSender", "FuzzReceiver"} {
		dir := filepath.Join("testdata", "fuzz", fz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", pk[n])
			if err := os.WriteFile(filepath.Join(dir, "sample-"+n), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
