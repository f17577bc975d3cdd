package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// memRW is an in-memory target that can be read and written.
type memRW struct{ b []byte }

func (m *memRW) ReadAt(p []byte, off int64) (int, error)  { return copy(p, m.b[off:]), nil }
func (m *memRW) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

// Random relocation graphs (chains, cycles, one source for several blocks, sources
// that are other copies' destinations, wrong hints): whatever memory CopyRelocated has
// for cycles, every block it marks matched holds the new block, and with enough memory
// it copies every one whose source held the right bytes.
func TestCopyRelocatedGraphs(t *testing.T) {
	const bs = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 2 + rng.IntN(40)
		old := make([][]byte, n)
		for k := range old {
			old[k] = make([]byte, bs)
			for j := range old[k] {
				old[k][j] = byte(rng.Uint32())
			}
		}
		// New block k: old block src[k] (a relocation when src[k] != k), a wrong
		// hint now and then, or new content with no hint.
		nw := make([][]byte, n)
		var rel []Relocation
		hashes := make([][32]byte, n)
		for k := range nw {
			switch r := rng.IntN(10); {
			case r < 7:
				src := rng.IntN(n)
				nw[k] = old[src]
				if src != k {
					rel = append(rel, Relocation{Block: k, From: int64(src)})
				}
			case r < 8:
				nw[k] = bytes.Repeat([]byte{byte(k)}, bs)
				if src := rng.IntN(n); src != k {
					rel = append(rel, Relocation{Block: k, From: int64(src)}) // a lying hint
				}
			default:
				nw[k] = bytes.Repeat([]byte{byte(k + 1)}, bs)
			}
			hashes[k] = sha256.Sum256(nw[k])
		}
		raw := encodeBlockMapIncr(12, []Range{{Off: 0, Len: int64(n * bs)}}, []int64{int64(n * bs)}, hashes, []int{}, rel)
		bm, err := ParseBlockMap(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, buffer := range []int64{0, bs, 1 << 30} {
			disk := &memRW{b: bytes.Join(old, nil)}
			match, _, err := HashTarget(context.Background(), bytes.NewReader(disk.b), bm, 1)
			if err != nil {
				t.Fatal(err)
			}
			st, err := CopyRelocated(context.Background(), disk, bm, match, buffer)
			if err != nil {
				t.Fatal(err)
			}
			for k, ok := range match {
				if ok && !bytes.Equal(disk.b[k*bs:(k+1)*bs], nw[k]) {
					t.Fatalf("round %d buffer %d: block %d marked held but wrong", round, buffer, k)
				}
			}
			if buffer == 1<<30 {
				for _, r := range rel {
					if bytes.Equal(old[r.From], nw[r.Block]) && !match[r.Block] {
						t.Fatalf("round %d: block %d not copied from %d (%+v)", round, r.Block, r.From, st)
					}
				}
			}
		}
	}
}
