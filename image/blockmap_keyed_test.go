package image

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// An encrypted image has a block map keyed with the image key: its hashes are not
// the plain blocks' SHA-256 (so they confirm no guess), hashing needs the key, the
// right key finds every block of the plain disk, another key none; a kept copy (a
// FileWriter given the map, as a session does) keeps it.
func TestKeyedBlockMap(t *testing.T) {
	data := append(randomBytes(7, 600<<10), compressible(8, 600<<10)...)
	k, other := testKey(t, 4), testKey(t, 5)
	img, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, Encrypt: k})
	bm := st.BlockMap
	if bm == nil || !bm.Keyed() || h.BlockMapLen == 0 {
		t.Fatal("encrypted image without a keyed block map")
	}
	_, _, plain := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	for i := range bm.Len() {
		if bm.Hash(i) == plain.BlockMap.Hash(i) {
			t.Fatalf("block %d: the keyed map holds the plain SHA-256", i)
		}
	}
	ctx := context.Background()
	if _, _, err := HashTarget(ctx, bytes.NewReader(data), bm, 2); !errors.Is(err, ErrMapKey) {
		t.Fatalf("hashing with a keyed map and no key: %v, want ErrMapKey", err)
	}
	match, _, err := HashTarget(ctx, bytes.NewReader(data), bm.WithKey(k), 2)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ok := range match {
		if ok {
			n++
		}
	}
	if n != bm.Len() {
		t.Fatalf("the plain disk matched %d of %d blocks with the key", n, bm.Len())
	}
	match, _, _ = HashTarget(ctx, bytes.NewReader(data), bm.WithKey(other), 2)
	for i, ok := range match {
		if ok {
			t.Fatalf("block %d matched under another key", i)
		}
	}
	// The map survives the file (its flag is under the manifest root).
	r := openImage(t, img)
	if rm := r.BlockMap(); rm == nil || !rm.Keyed() {
		t.Fatal("the image file lost the keyed map")
	}
}
