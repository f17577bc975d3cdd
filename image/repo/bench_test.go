package repo

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/discuscast/discus/image"
)

// benchDisk is 64 MiB that compresses about 3:1, with no repeats.
func benchDisk() []byte {
	var b bytes.Buffer
	for i := uint64(0); b.Len() < 64<<20; i++ {
		b.Write(textBytes(i, 48<<10))
		b.Write(randBytes(i, 16<<10))
	}
	return b.Bytes()[:64<<20]
}

// BenchmarkAdd: hashing, compressing and writing a new image (every block
// new) and a second, identical one (every block found: the hashing rate).
func BenchmarkAdd(b *testing.B) {
	disk := benchDisk()
	for _, name := range []string{"new", "known"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(disk)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := newRepo(b, Config{})
				if name == "known" {
					r.Add(context.Background(), "first", bytes.NewReader(disk), int64(len(disk)), AddOptions{})
				}
				b.StartTimer()
				if _, err := r.Add(context.Background(), "x", bytes.NewReader(disk), int64(len(disk)), AddOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExport: reading an image back (decompress, hash-check) into a
// Discus image.
func BenchmarkExport(b *testing.B) {
	disk := benchDisk()
	r := newRepo(b, Config{})
	if _, err := r.Add(context.Background(), "x", bytes.NewReader(disk), int64(len(disk)), AddOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(disk)))
	for i := 0; i < b.N; i++ {
		if _, _, err := r.Export(context.Background(), "x", io.Discard, image.CreateConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}
