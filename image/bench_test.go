package image

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

var benchData = sync.OnceValue(func() []byte { return compressible(42, 128<<20) })

// realData is up to 128 MiB of real files (/usr/share/doc and /usr/bin
// concatenated): text and binaries, about 2.4:1 with zstd -1.
var realData = sync.OnceValue(func() []byte {
	var b []byte
	for _, dir := range []string{"/usr/share/doc", "/usr/bin"} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || len(b) >= 128<<20 {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				if f, err := os.ReadFile(p); err == nil {
					b = append(b, f...)
				}
			}
			return nil
		})
	}
	return b[:min(len(b), 128<<20)]
})

func benchSets(b *testing.B, f func(b *testing.B, data []byte)) {
	b.Run("generated", func(b *testing.B) { f(b, benchData()) })
	b.Run("realfiles", func(b *testing.B) {
		d := realData()
		if len(d) < 32<<20 {
			b.Skip("not enough files under /usr/share/doc and /usr/bin")
		}
		f(b, d)
	})
}

// BenchmarkCreate: non-zero compressible input at the default level, all
// cores, chunks discarded. Target: >= 300 MB/s on 2 cores.
func BenchmarkCreate(b *testing.B) { benchSets(b, benchCreate) }

func benchCreate(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	var stored int64
	defer reportCPU(b, int64(len(data)), cpuTime())
	for b.Loop() {
		h, _, err := CreateChunks(context.Background(), NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{},
			func(int, []byte) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		stored = h.StoredBytes
	}
	b.ReportMetric(float64(len(data))/float64(stored), "ratio")
}

// cpuTime is the process's user+system CPU time. On this shared 2-core
// machine, throughput per CPU-second (times 2) estimates what the
// benchmark would reach with both cores to itself.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, bytesPerOp int64, start time.Duration) {
	cpu := (cpuTime() - start).Seconds()
	if cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/cpu/1e6, "MB/cpu-s")
	}
}

// BenchmarkInstall: verify + decompress + write to tmpfs (/dev/shm).
// Target: >= 800 MB/s of output on 2 cores.
func BenchmarkInstall(b *testing.B) { benchSets(b, benchInstall) }

func benchInstall(b *testing.B, data []byte) {
	img, h, _ := createImage(b, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{})
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		b.Fatal(err)
	}
	chunks := make([][]byte, r.NumChunks())
	for i := range chunks {
		chunks[i], _ = r.Chunk(i)
	}
	dir := "/dev/shm"
	if _, err := os.Stat(dir); err != nil {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "discus-bench-install")
	defer os.Remove(path)
	b.SetBytes(h.TargetSize)
	defer reportCPU(b, h.TargetSize, cpuTime())
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		in, err := NewInstaller(f, h, InstallConfig{Grow: true})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range chunks {
			if err := in.Put(context.Background(), c); err != nil {
				b.Fatal(err)
			}
		}
		if err := in.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkZstdBaseline is the ceiling for BenchmarkCreate: the same data
// compressed by EncodeAll in 4 MiB pieces on all cores, nothing else.
func BenchmarkZstdBaseline(b *testing.B) { benchSets(b, benchZstd) }

func benchZstd(b *testing.B, data []byte) {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false), zstd.WithSingleSegment(true))
	defer enc.Close()
	const piece = 4 << 20
	b.SetBytes(piece)
	defer reportCPU(b, piece, cpuTime())
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, 0, piece)
		i := 0
		for pb.Next() {
			off := (i * piece) % (len(data) - piece)
			dst = enc.EncodeAll(data[off:off+piece], dst[:0])
			i++
		}
	})
}
