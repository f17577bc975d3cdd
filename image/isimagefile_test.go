package image

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsImageFile(t *testing.T) {
	dir := t.TempDir()
	data := compressible(1, 300<<10)
	img, _, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{})
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"image", img, true},
		{"disk", data, false},
		{"short", []byte("DSI"), false},
		{"empty", nil, false},
		{"prologue only", img[:8], true},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := IsImageFile(p); got != c.want || err != nil {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := IsImageFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A directory opens but cannot be read: the error names it.
	if _, err := IsImageFile(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: %v", err)
	}
}
