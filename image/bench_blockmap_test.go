package image

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"testing"
)

// benchMap writes size bytes of random data to a file on tmpfs (/dev/shm)
// and returns it with the block map of its whole content.
func benchMap(b *testing.B, size, blockSize int) (*os.File, *BlockMap) {
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = b.TempDir()
	}
	f, err := os.CreateTemp(dir, "discus-hash-bench-*")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	mb, _ := newMapBuilder(blockSize, nil)
	for off := 0; off < size; off += len(buf) {
		for i := 0; i < len(buf); i += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		if _, err := f.WriteAt(buf, int64(off)); err != nil {
			b.Fatal(err)
		}
		mb.add(int64(off), buf)
		mb.span(int64(off + len(buf)))
	}
	return f, mb.done()
}

// BenchmarkHashTarget hashes a 256 MiB target on tmpfs against its block
// map, as a receiver does before it joins. Target: ≥ 1 GB/s (resume must
// cost less than receiving).
func BenchmarkHashTarget(b *testing.B) {
	for _, bs := range []int{4 << 10, 16 << 10, 64 << 10} {
		f, bm := benchMap(b, 256<<20, bs)
		for _, w := range []int{1, 0} {
			name := map[int]string{1: "1worker", 0: "allcores"}[w]
			b.Run(sizeName(bs)+"/"+name, func(b *testing.B) {
				b.SetBytes(256 << 20)
				for b.Loop() {
					_, st, err := HashTarget(context.Background(), f, bm, w)
					if err != nil || st.Matched != bm.Len() {
						b.Fatal(err, st)
					}
				}
			})
		}
	}
}

// BenchmarkSHA256 is the bare hash on one core (SHA-NI if the CPU has it).
func BenchmarkSHA256(b *testing.B) {
	buf := make([]byte, 16<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sha256.Sum256(buf)
	}
}

func sizeName(n int) string {
	return map[int]string{4 << 10: "4K", 16 << 10: "16K", 64 << 10: "64K"}[n]
}
