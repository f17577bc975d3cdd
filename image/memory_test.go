package image

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// synthDisk is a deterministic 4 GiB-class disk: 1 MiB of compressible
// data, 1 MiB of zeros, repeated.
type synthDisk struct {
	size    int64
	pattern []byte
}

func (d synthDisk) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off < d.size {
		blk := off >> 20
		in := off & (1<<20 - 1)
		k := min(int64(len(p)-n), 1<<20-in, d.size-off)
		if blk%2 == 0 {
			copy(p[n:n+int(k)], d.pattern[in:in+k])
		} else {
			clear(p[n : n+int(k)])
		}
		n += int(k)
		off += k
	}
	return n, nil
}

// BenchmarkInstall4GiBMemory creates a 4 GiB image (2 GiB of data) on
// /dev/shm, then installs it onto a sparse 4 GiB file there in a separate
// process and reports that process's peak RSS (VmHWM). Target: <= 64 MiB.
// Run with: go test -run '^$' -bench Install4GiB -benchtime 1x ./image/
func BenchmarkInstall4GiBMemory(b *testing.B) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		b.Skip("needs /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "discus-mem")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "img")
	f, err := os.Create(img)
	if err != nil {
		b.Fatal(err)
	}
	const size = 4 << 30
	h, _, err := Create(context.Background(), NewSource(synthDisk{size, compressible(4, 1<<20)}, size), f, CreateConfig{})
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstallProcess$")
		cmd.Env = append(os.Environ(), "DISCUS_INSTALL_IMAGE="+img, "DISCUS_INSTALL_TARGET="+filepath.Join(dir, "target"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("install process: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM-KiB "); ok {
				kib, _ := strconv.Atoi(v)
				b.ReportMetric(float64(kib)/1024, "MiB-peak-RSS")
			}
		}
	}
	b.ReportMetric(float64(h.ChunkCount), "chunks")
}

// TestInstallProcess is the child of BenchmarkInstall4GiBMemory.
func TestInstallProcess(t *testing.T) {
	img, target := os.Getenv("DISCUS_INSTALL_IMAGE"), os.Getenv("DISCUS_INSTALL_TARGET")
	if img == "" {
		t.Skip("helper process for BenchmarkInstall4GiBMemory")
	}
	r, err := OpenFile(img)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Create(target)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(target)
	in, err := NewInstaller(f, r.Header(), InstallConfig{Grow: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for i := range r.NumChunks() {
		if buf, err = r.ReadChunk(i, buf); err != nil {
			t.Fatal(err)
		}
		if err := in.Put(context.Background(), buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, _ := os.Open("/proc/self/status")
	defer st.Close()
	sc := bufio.NewScanner(st)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			println("VmHWM-KiB", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}
