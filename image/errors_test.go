package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func smallImage(t *testing.T) ([]byte, []byte, *Header) {
	data := append(compressible(11, 600<<10), randomBytes(11, 300<<10)...)
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	return data, img, h
}

// sizedTarget is a fixed-size WriterAt that records whether it was written.
type sizedTarget struct {
	buf     []byte
	written atomic.Bool
}

func (s *sizedTarget) Size() int64  { return int64(len(s.buf)) }
func (s *sizedTarget) Name() string { return "test-disk" }
func (s *sizedTarget) WriteAt(p []byte, off int64) (int, error) {
	s.written.Store(true)
	return copy(s.buf[off:], p), nil
}

func TestTargetTooSmall(t *testing.T) {
	_, _, h := smallImage(t)
	tgt := &sizedTarget{buf: make([]byte, h.TargetSize-1)}
	_, err := NewInstaller(tgt, h, InstallConfig{})
	if !errors.Is(err, ErrTargetTooSmall) || !strings.Contains(err.Error(), "test-disk") {
		t.Fatalf("got %v, want ErrTargetTooSmall naming the target", err)
	}
	if tgt.written.Load() {
		t.Fatal("target written before refusing it")
	}
	// A regular file is refused too unless Grow is set; it stays unchanged.
	path := filepath.Join(t.TempDir(), "small")
	os.WriteFile(path, []byte("precious"), 0o644)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	defer f.Close()
	if _, err := NewInstaller(f, h, InstallConfig{}); !errors.Is(err, ErrTargetTooSmall) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want ErrTargetTooSmall naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("refused target changed")
	}
}

func TestCorruptChunk(t *testing.T) {
	_, img, h := smallImage(t)
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	off, n := r.ChunkOffset(2)
	for _, at := range []int64{off + 30, off + int64(n) - 10} { // header, payload
		bad := bytes.Clone(img)
		bad[at] ^= 0x40
		r, _ := Open(bytes.NewReader(bad), int64(len(bad)))
		_, _, err := r.VerifyChunk(2, nil)
		var ce *ChunkError
		if !errors.As(err, &ce) || ce.Index != 2 || ce.Offset != off || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d: got %v, want ChunkError for chunk 2 at %d", at, err, off)
		}
		if !strings.Contains(err.Error(), "chunk 2") {
			t.Fatalf("error %q does not name the chunk", err)
		}
		// The installer refuses it, writes nothing, and can take the good one.
		tgt := &sizedTarget{buf: make([]byte, h.TargetSize)}
		in, err := NewInstaller(tgt, h, InstallConfig{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := r.Chunk(2)
		if err := in.Put(context.Background(), c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Put corrupt chunk: %v", err)
		}
		if in.Have(2) {
			t.Fatal("corrupt chunk counted as had")
		}
		good, _ := (func() ([]byte, error) { r, _ := Open(bytes.NewReader(img), int64(len(img))); return r.Chunk(2) })()
		if err := in.Put(context.Background(), good); err != nil || !in.Have(2) {
			t.Fatalf("good chunk after a corrupt one: %v", err)
		}
		if err := in.Close(); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("Close with missing chunks: %v", err)
		}
	}
}

func TestTruncatedImage(t *testing.T) {
	_, img, _ := smallImage(t)
	for _, n := range []int{0, 5, 100, len(img) / 2, len(img) - 1} {
		if _, err := Open(bytes.NewReader(img[:n]), int64(n)); err == nil {
			t.Fatalf("Open of %d/%d bytes succeeded", n, len(img))
		}
		_, err := ScanStream(context.Background(), bytes.NewReader(img[:n]), nil, func(int, []byte) error { return nil })
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("ScanStream of %d/%d bytes: %v, want ErrTruncated", n, len(img), err)
		}
	}
}

func TestForeignAndDuplicateChunks(t *testing.T) {
	data, img, h := smallImage(t)
	_, other, _ := smallImage(t)
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	ro, _ := Open(bytes.NewReader(other), int64(len(other)))
	tgt := &sizedTarget{buf: make([]byte, h.TargetSize)}
	in, err := NewInstaller(tgt, h, InstallConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := ro.Chunk(0)
	if err := in.Put(context.Background(), c0); !errors.Is(err, ErrForeignImage) {
		t.Fatalf("foreign chunk: %v", err)
	}
	for range 2 {
		for i := r.NumChunks() - 1; i >= 0; i-- {
			c, _ := r.Chunk(i)
			if err := in.Put(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	st := in.Stats()
	if st.Duplicates != r.NumChunks() || st.Written != r.NumChunks() || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
	mustEqual(t, tgt.buf, data)
	if err := in.Put(context.Background(), c0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	_, _, h := smallImage(t)
	h.Source = "/dev/sda ünïcode"
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1024 {
		t.Fatalf("header is %d bytes", len(b))
	}
	g, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if *g != *h {
		t.Fatalf("round trip:\n%+v\n%+v", g, h)
	}
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 1
		if _, err := ParseHeader(bad); err == nil {
			t.Fatalf("bit flip at %d accepted", i)
		}
	}
}
