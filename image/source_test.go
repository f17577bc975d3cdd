package image

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A sparse file's holes are skipped unread and come back as gaps.
func TestSparseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64<<20 + 1000
	want := make([]byte, size)
	for _, at := range []int64{0, 5 << 20, 30<<20 + 4096, size - 3000} {
		d := compressible(uint64(at), 2000+int(at%7777))
		d = d[:min(int64(len(d)), size-at)]
		copy(want[at:], d)
		if _, err := f.WriteAt(d, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src, err := OpenSource(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.data == nil {
		t.Skip("filesystem of TempDir does not report holes")
	}
	img, h, st := createImage(t, src, CreateConfig{})
	if st.ReadBytes > 1<<20 {
		t.Errorf("read %d bytes of a file with ~16 KiB of data: holes not skipped", st.ReadBytes)
	}
	if h.UnusedBytes < 60<<20 {
		t.Errorf("unused bytes %d, want the holes counted", h.UnusedBytes)
	}
	mustEqual(t, installImage(t, img, InstallConfig{}, nil), want)
}

// A stream source (stdin) of unknown size, written to a pipe, read back
// with ScanStream and installed.
func TestStreamRoundTrip(t *testing.T) {
	data := append(compressible(9, 3<<20+17), make([]byte, 100<<10)...)
	data = append(data, randomBytes(9, 200<<10+3)...)
	data = append(data, make([]byte, 50000)...) // zero tail: owned by the last chunk
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, bytes.NewReader(data))
		pw.CloseWithError(err)
	}()
	var img bytes.Buffer
	h, _, err := Create(context.Background(), NewStreamSource(pr), onlyWriter{&img}, CreateConfig{ChunkSize: MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	if h.TargetSize != int64(len(data)) {
		t.Fatalf("stream size %d, want %d", h.TargetSize, len(data))
	}
	path := filepath.Join(t.TempDir(), "target")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in *Installer
	final, err := ScanStream(context.Background(), onlyReader{&img}, func(pre *Header) error {
		if pre.TargetSize != SizeUnknown || pre.Complete {
			t.Errorf("preliminary header of a stream: size %d complete %v", pre.TargetSize, pre.Complete)
		}
		in, err = NewInstaller(f, pre, InstallConfig{Grow: true})
		return err
	}, func(i int, c []byte) error { return in.Put(context.Background(), c) })
	if err != nil {
		t.Fatal(err)
	}
	// The last chunk alone completes the header...
	if got := in.Header(); !got.Complete || got.ChunkCount != final.ChunkCount || got.TargetSize != final.TargetSize {
		t.Fatalf("header after the last chunk: %+v", got)
	}
	// ...and the final one agrees with it.
	if err := in.SetHeader(final); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	mustEqual(t, got, data)
}

// Used ranges: everything outside them is skipped unread.
func TestUsedRanges(t *testing.T) {
	data := compressible(5, 4<<20)
	used := []Range{{Off: 4096, Len: 10000}, {Off: 1 << 20, Len: 1 << 20}, {Off: 4<<20 - 5, Len: 5}}
	img, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{Used: used})
	var n int64
	for _, u := range used {
		n += u.Len
	}
	if st.ReadBytes != n || h.DataBytes != n || h.UnusedBytes != int64(len(data))-n {
		t.Fatalf("read %d, data %d, unused %d; want %d used", st.ReadBytes, h.DataBytes, h.UnusedBytes, n)
	}
	want := make([]byte, len(data))
	for _, u := range used {
		copy(want[u.Off:u.End()], data[u.Off:u.End()])
	}
	mustEqual(t, installImage(t, img, InstallConfig{Gaps: GapZero}, nil), want)

	if _, _, err := CreateChunks(context.Background(), NewSource(bytes.NewReader(data), int64(len(data))),
		CreateConfig{Used: []Range{{Off: 10, Len: 5}, {Off: 12, Len: 1}}}, func(int, []byte) error { return nil }); err == nil {
		t.Fatal("overlapping Used ranges accepted")
	}
}

type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Many tiny used ranges: chunks end when their range lists are full.
func TestManyTinyRanges(t *testing.T) {
	data := randomBytes(8, 1<<20)
	var used []Range
	for off := int64(0); off < int64(len(data)); off += 10 {
		used = append(used, Range{Off: off, Len: 3})
	}
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, Used: used})
	want := make([]byte, len(data))
	for _, u := range used {
		copy(want[u.Off:u.End()], data[u.Off:u.End()])
	}
	mustEqual(t, installImage(t, img, InstallConfig{}, nil), want)
	t.Logf("%d ranges -> %d chunks", len(used), h.ChunkCount)
}
