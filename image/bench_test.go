package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

var benchData = sync.OnceValue(func() []byte { return compressible(42, 128<<20) })

// BenchmarkCreate: non-zero compressible input at the default level, all
// cores, chunks discarded. Target: >= 300 MB/s on 2 cores.
func BenchmarkCreate(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	var stored int64
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

// BenchmarkInstall: verify + decompress + write to tmpfs (/dev/shm).
// Target: >= 800 MB/s of output on 2 cores.
func BenchmarkInstall(b *testing.B) {
	data := benchData()
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
func BenchmarkZstdBaseline(b *testing.B) {
	data := benchData()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false), zstd.WithSingleSegment(true))
	defer enc.Close()
	const piece = 4 << 20
	b.SetBytes(piece)
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
