package netboot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// discus.then=shell: a shell that ends is started again (init must never exit), with
// waits that grow so a console at EOF does not spin.
func TestKeepShell(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	sh := filepath.Join(dir, "sh")
	os.WriteFile(sh, []byte("#!/bin/sh\necho x >> "+count+"\nexit 3\n"), 0o755)
	var waits []time.Duration
	keepShell(sh, 5, func(d time.Duration) { waits = append(waits, d) })
	b, _ := os.ReadFile(count)
	if n := strings.Count(string(b), "x"); n != 5 {
		t.Fatalf("the shell ran %d times, want 5", n)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}
