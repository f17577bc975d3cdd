package image_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/discuscast/discus/image"
)

// Create an image file of a small "disk" and install it onto a new file.
func Example() {
	ctx := context.Background()
	disk := append(bytes.Repeat([]byte("hello, disk! "), 50000), make([]byte, 1<<20)...)

	// Create: the source can be any io.ReaderAt of known size.
	var img bytes.Buffer
	h, _, err := image.Create(ctx, image.NewSource(bytes.NewReader(disk), int64(len(disk))), &img, image.CreateConfig{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("target %d bytes, %d zero bytes skipped\n", h.TargetSize, h.ZeroBytes)

	// Install: open the image, then Put its chunks — here backwards, to show
	// that order does not matter.
	r, err := image.Open(bytes.NewReader(img.Bytes()), int64(img.Len()))
	if err != nil {
		log.Fatal(err)
	}
	target, err := os.Create(filepath.Join(os.TempDir(), "discus-example-target"))
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(target.Name())
	defer target.Close()
	in, err := image.NewInstaller(target, r.Header(), image.InstallConfig{Grow: true})
	if err != nil {
		log.Fatal(err)
	}
	for i := r.NumChunks() - 1; i >= 0; i-- {
		c, err := r.Chunk(i)
		if err != nil {
			log.Fatal(err)
		}
		if err := in.Put(ctx, c); err != nil {
			log.Fatal(err)
		}
	}
	if err := in.Close(); err != nil {
		log.Fatal(err)
	}
	got, _ := os.ReadFile(target.Name())
	fmt.Println("identical:", bytes.Equal(got, disk))
	// Output:
	// target 1698576 bytes, 1047312 zero bytes skipped
	// identical: true
}

// A chunk that fails its checks is refused with an error naming it, and
// nothing of it is written: a network receiver simply asks for it again.
func ExampleParseChunk() {
	disk := bytes.Repeat([]byte("some data "), 10000)
	var chunks [][]byte
	_, _, err := image.CreateChunks(context.Background(), image.NewSource(bytes.NewReader(disk), int64(len(disk))),
		image.CreateConfig{}, func(i int, c []byte) error { chunks = append(chunks, c); return nil })
	if err != nil {
		log.Fatal(err)
	}
	c := bytes.Clone(chunks[0])
	c[len(c)-1] ^= 0xff // damage the payload
	_, _, err = image.ParseChunk(c)
	fmt.Println(err)
	// Output:
	// chunk 0: image: corrupt data: chunk payload checksum mismatch
}

// The header travels on its own, e.g. in a multicast announcement.
func ExampleParseHeader() {
	h := &image.Header{ID: image.ID{1}, TargetSize: 1 << 30, SectorSize: 512, ChunkSize: image.DefaultChunkSize,
		Codec: image.CodecZstd, Level: 1, Source: "/dev/sda"}
	b, err := h.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	g, err := image.ParseHeader(b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(b), g.Source, g.TargetSize, g.Complete)
	// Output:
	// 196 /dev/sda 1073741824 false
}
