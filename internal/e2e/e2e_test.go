// Package e2e runs the real commands (mcimage, mcsend, mcrecv) over real UDP
// multicast inside private network namespaces, as an imaging script would.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/discuscast/discus/internal/testnet"
)

var bin string // directory holding the built commands

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "discus-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", dir, "github.com/discuscast/discus/cmd/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the commands: %v\n%s", err, out)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// diskFile writes n bytes that look like a used disk (text, random runs,
// zero stretches) and returns its path.
func diskFile(t *testing.T, dir string, n int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for off := 0; off < n; off += 256 << 10 {
		end := min(off+256<<10, n)
		switch rng.IntN(4) {
		case 0, 1:
			for i := off; i < end; i++ {
				b[i] = "lab machine image, multicast "[i%29]
			}
		case 2:
			for i := off; i < end; i++ {
				b[i] = byte(rng.Uint32())
			}
		}
	}
	p := filepath.Join(dir, fmt.Sprintf("disk%d.raw", seed))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func makeImage(t *testing.T, raw string) string {
	t.Helper()
	img := strings.TrimSuffix(raw, ".raw") + ".dsc"
	if out, err := exec.Command(filepath.Join(bin, "mcimage"), "create", "--raw", raw, img).CombinedOutput(); err != nil {
		t.Fatalf("mcimage create: %v\n%s", err, out)
	}
	return img
}

func fileHash(t *testing.T, p string) uint64 {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return xxhash.Sum64(b)
}

// proc is a command started in a namespace.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	code int
}

func start(t *testing.T, h *testnet.Host, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = h.Command(ctx, filepath.Join(bin, args[0]), args[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		defer cancel()
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		default:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *proc) wait(t *testing.T, want int) {
	t.Helper()
	<-p.done
	if p.code != want {
		t.Errorf("%s exited %d, want %d; output:\n%s", p.name, p.code, want, p.out.String())
	}
}

// lastLine is the final line a command printed (its summary).
func (p *proc) lastLine() string {
	lines := strings.Split(strings.TrimSpace(p.out.String()), "\n")
	return lines[len(lines)-1]
}
