package wire

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// FuzzParse: every decoder either rejects the input or accepts exactly what its encoder
// produces, and never panics.
func FuzzParse(f *testing.F) {
	for _, p := range samplePackets() {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte("DSCS"))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, body, err := ParseHeader(p)
		if err != nil {
			return
		}
		again, err := reencode(h, body)
		if err != nil {
			return
		}
		want := append([]byte(nil), p...)
		want[7] = 0 // reserved, ignored
		if !bytes.Equal(again, want) {
			t.Fatalf("accepted %x but re-encodes as %x", p, again)
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzParse/sample-* from samplePackets
// when MCAST_WRITE_SEEDS=1 (run it after a wire format change; package mcast keeps
// the corpora of FuzzSender and FuzzReceiver).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MCAST_WRITE_SEEDS") != "1" {
		t.Skip("set MCAST_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	writeSeeds(t, samplePackets(), "FuzzParse")
}

// writeSeeds writes pk as the seed corpus of the fuzz tests named.
func writeSeeds(t *testing.T, pk map[string][]byte, fuzzers ...string) {
	names := make([]string, 0, len(pk))
	for n := range pk {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, fz := range fuzzers {
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
