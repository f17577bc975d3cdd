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

// Read the disk an image holds without installing it: here the bytes at
// 1 MiB, inside a gap of zeros the image does not store.
func ExampleNewDiskReader() {
	disk := append(bytes.Repeat([]byte("boot sector "), 1000), make([]byte, 2<<20)...)
	var img bytes.Buffer
	if _, _, err := image.Create(context.Background(), image.NewSource(bytes.NewReader(disk), int64(len(disk))),
		&img, image.CreateConfig{}); err != nil {
		log.Fatal(err)
	}
	r, err := image.Open(bytes.NewReader(img.Bytes()), int64(img.Len()))
	if err != nil {
		log.Fatal(err)
	}
	d, err := image.NewDiskReader(r)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	head, gap := make([]byte, 11), make([]byte, 4)
	d.ReadAt(head, 0)
	d.ReadAt(gap, 1<<20)
	fmt.Printf("%q %v, disk of %d bytes\n", head, gap, d.Size())
	// Output:
	// "boot sector" [0 0 0 0], disk of 2109152 bytes
}

// Keep an image whose chunks arrive in any order (as from the network)
// as an image file.
func ExampleFileWriter() {
	disk := bytes.Repeat([]byte("kept, not installed "), 200000)
	var chunks [][]byte
	h, _, err := image.CreateChunks(context.Background(), image.NewSource(bytes.NewReader(disk), int64(len(disk))),
		image.CreateConfig{ChunkSize: image.MinChunkSize}, func(_ int, c []byte) error { chunks = append(chunks, c); return nil })
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(os.TempDir(), "discus-example-kept.dsc")
	defer os.Remove(path)
	w, err := image.NewFileWriter(path, h)
	if err != nil {
		log.Fatal(err)
	}
	for i := len(chunks) - 1; i >= 0; i-- { // backwards
		if err := w.Put(context.Background(), chunks[i]); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	r, err := image.OpenFile(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.NumChunks() == len(chunks), image.Verify(context.Background(), r, image.InstallConfig{}))
	// Output:
	// true <nil>
}
