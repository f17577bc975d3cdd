package layout

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// memDisk is a target of fixed size in memory; a write outside it fails
// the test, since Fit must never write past a target's end.
type memDisk struct {
	t *testing.T
	b []byte
}

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m.b)) {
		return 0, fmt.Errorf("read at %d outside %d bytes", off, len(m.b))
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d", off)
	}
	return n, nil
}

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		m.t.Fatalf("write of %d bytes at %d outside a %d-byte target", len(p), off, len(m.b))
	}
	return copy(m.b[off:], p), nil
}

const fuzzMaxDisk = 4 << 20

// FuzzFit runs Fit on a disk image installed onto a target of another
// size. data is the image's disk as patches over zeros (offset u32,
// length u16, bytes: the seeds in testdata hold a real table's non-zero
// sectors), imageSize its size. Whatever the bytes, Fit must not panic or
// write outside the target, and when it succeeds the result must be
// stable: a second Fit finds nothing to move or resize.
func FuzzFit(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, imageSize, size int64, grow bool) {
		imageSize = min(max(imageSize, -imageSize, 0), fuzzMaxDisk) &^ 511
		size = min(max(size, -size, 0), fuzzMaxDisk) &^ 511
		d := &memDisk{t: t, b: make([]byte, size)}
		for len(data) >= 6 {
			off := int64(binary.LittleEndian.Uint32(data))
			n := min(int(binary.LittleEndian.Uint16(data[4:])), len(data)-6)
			if off < min(size, imageSize) {
				// What the installer wrote: the image's bytes inside the target.
				copy(d.b[off:min(size, imageSize)], data[6:6+n])
			}
			data = data[6+n:]
		}
		res, err := Fit(d, imageSize, size, Config{Grow: grow})
		if err != nil || res.Scheme == "" {
			return
		}
		again, err := Fit(d, size, size, Config{Grow: grow})
		if err != nil {
			t.Fatalf("second Fit: %v (first %+v)", err, res)
		}
		if again.Moved || again.Resized != nil {
			t.Fatalf("second Fit changed the disk again: %+v %+v, first %+v %+v", again, again.Resized, res, res.Resized)
		}
	})
}
