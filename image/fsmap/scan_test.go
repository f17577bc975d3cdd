package fsmap

import (
	"bytes"
	"testing"

	"github.com/discuscast/discus/image"
)

func TestScanUnknownDiskAllUsed(t *testing.T) {
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(i * 7)
	}
	m, err := Scan(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m)
	if m.UsedBytes() != int64(len(b)) || len(m.Partitions) != 1 || m.Partitions[0].Scheme != "none" {
		t.Fatalf("unknown disk: %+v", m)
	}
}

func TestScanEmptyAndNegative(t *testing.T) {
	m, err := Scan(bytes.NewReader(nil), 0, nil)
	if err != nil || m.UsedBytes() != 0 {
		t.Fatalf("empty: %v %+v", err, m)
	}
	if _, err := Scan(bytes.NewReader(nil), -1, nil); err != ErrBadSize {
		t.Fatalf("negative size: %v", err)
	}
}

func TestNormalizeComplement(t *testing.T) {
	rs := normalize([]image.Range{{Off: 10, Len: 5}, {Off: 0, Len: 3}, {Off: 3, Len: 2}, {Off: 12, Len: 10}, {Off: 40, Len: 0}})
	want := []image.Range{{Off: 0, Len: 5}, {Off: 10, Len: 12}}
	if len(rs) != len(want) || rs[0] != want[0] || rs[1] != want[1] {
		t.Fatalf("normalize: %v", rs)
	}
	c := complement(rs, 30)
	wantC := []image.Range{{Off: 5, Len: 5}, {Off: 22, Len: 8}}
	if len(c) != 2 || c[0] != wantC[0] || c[1] != wantC[1] {
		t.Fatalf("complement: %v", c)
	}
	if cl := clip([]image.Range{{Off: 0, Len: 10}, {Off: 20, Len: 10}}, image.Range{Off: 5, Len: 20}); len(cl) != 2 || cl[0] != (image.Range{Off: 5, Len: 5}) || cl[1] != (image.Range{Off: 20, Len: 5}) {
		t.Fatalf("clip: %v", cl)
	}
}
