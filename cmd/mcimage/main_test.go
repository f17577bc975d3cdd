package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateVerifyExtract(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := make([]byte, 3<<20+1234)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < len(data); i += 8192 { // half random, half zero blocks
		for j := i; j < min(i+4096, len(data)); j++ {
			data[j] = byte(r.IntN(16))
		}
	}
	os.WriteFile(src, data, 0o644)
	img := filepath.Join(dir, "img")
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"create", "--chunk-size", "64K", "--level", "3", src, img}, 0},
		{[]string{"info", img}, 0},
		{[]string{"verify", img}, 0},
		{[]string{"extract", "--gaps", "zero", img, out}, 0},
		{[]string{"extract", "--gaps", "sideways", img, out}, 2},
		{[]string{"create", "--chunk-size", "1K", src, img + "2"}, 2},
		{[]string{"create", src}, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"verify", src}, 6},                                      // not an image: verification failed
		{[]string{"create", filepath.Join(dir, "missing"), img + "3"}, 7}, // I/O error
	} {
		if got := run(c.args); got != c.code {
			t.Fatalf("mcimage %v: exit %d, want %d", c.args, got, c.code)
		}
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, data) {
		t.Fatal("extracted bytes differ from the source")
	}
	// A damaged image fails verification and extraction.
	b, _ := os.ReadFile(img)
	b[len(b)/2] ^= 1
	os.WriteFile(img, b, 0o644)
	if run([]string{"verify", img}) != 6 || run([]string{"extract", img, out}) != 6 {
		t.Fatal("damaged image not refused")
	}
}
