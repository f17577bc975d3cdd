package image

import (
	"bytes"
	"testing"
)

// Zero runs inside a 4 KiB block are data: only whole aligned zero blocks (or zero
// tails of a used range) are dropped, wherever the cutter's jobs happen to end. Every
// block here is zeros but for its last 96 bytes, so a block judged in two reads used to
// lose its first part in some chunks (which depended on the compression ratio).
func TestZeroRunsInsideBlocksKept(t *testing.T) {
	data := make([]byte, 3<<20)
	fill := randomBytes(9, len(data))
	for off := 0; off < len(data); off += ZeroBlock {
		copy(data[off+ZeroBlock-96:off+ZeroBlock], fill[off:])
	}
	for _, cs := range []int{MinChunkSize, 3 * MinChunkSize, 1 << 20} {
		img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: cs})
		if h.ZeroBytes != 0 {
			t.Fatalf("chunk size %d: %d zero bytes skipped, want 0", cs, h.ZeroBytes)
		}
		mustEqual(t, installImage(t, img, InstallConfig{}, nil), data)
	}
}
