package image

import (
	"crypto/sha256"
	"fmt"
	"sync"
)

// ManifestChecker checks chunks against the manifest of an image whose
// header is trusted, before anything of them is written. The manifest
// arrives in parts (Manifest.Part numbering) in any order; each part is
// verified on arrival — the table against the header's ManifestRoot, a
// piece against the table — so a forged part is refused (and can be
// fetched again) and never replaces a good one. It is safe for concurrent
// use. Memory: the table and the pieces verified so far, at most 32 bytes
// per chunk of the header's count.
type ManifestChecker struct {
	root   [32]byte
	piece  int
	count  int
	pieces int

	mapLen  int     // bytes of the block map, 0 if none
	mapq    int     // its pieces
	h       *Header // to check the map against
	mu      sync.Mutex
	table   []byte   // nil until verified
	hashes  [][]byte // piece j, nil until verified
	have    int      // verified pieces
	mapp    [][]byte // block map piece k, nil until verified
	mapHave int
	bm      *BlockMap // once every map piece is in
}

// NewManifestChecker prepares to check the chunks of the image of h, which
// must be complete and carry a manifest root.
func NewManifestChecker(h *Header) (*ManifestChecker, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	if h.ManifestParts() == 0 {
		return nil, fmt.Errorf("%w: image header has no manifest (not complete, or no root)", ErrManifest)
	}
	n := manifestPieces(h.ChunkSize, int(h.ChunkCount))
	// hashes is allocated here: n ≤ P/32 by validate, a few KiB at most.
	q := mapPieces(h.ChunkSize, h.BlockMapLen)
	return &ManifestChecker{root: h.ManifestRoot, piece: pieceLen(h.ChunkSize), count: int(h.ChunkCount),
		pieces: n, hashes: make([][]byte, n), mapLen: int(h.BlockMapLen), mapq: q, mapp: make([][]byte, q),
		h: h.clone()}, nil
}

// Parts is the number of manifest parts (the table, the pieces and the
// block map's pieces).
func (m *ManifestChecker) Parts() int { return 1 + m.pieces + m.mapq }

// BlockMap returns the image's block map once all its parts are verified
// (nil before, or if the image has none).
func (m *ManifestChecker) BlockMap() *BlockMap {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bm
}

// HasBlockMap reports whether the image has a block map.
func (m *ManifestChecker) HasBlockMap() bool { return m.mapq > 0 }

// partLen is the exact length of part j.
func (m *ManifestChecker) partLen(j int) int {
	if j == 0 {
		return (m.pieces + m.mapq) * hashLen
	}
	if j > m.pieces {
		k := j - 1 - m.pieces
		return min(m.piece, m.mapLen-k*m.piece)
	}
	return min(m.piece, m.count*hashLen-(j-1)*m.piece)
}

// AddPart verifies manifest part j (0 the table, 1.. the pieces) and keeps
// it. An error wrapping ErrCorrupt means the part is forged or damaged:
// fetch it again. An error wrapping ErrManifestPending means a piece came
// before the table: offer it again once the table is in. A part already
// verified is accepted again without a check (b is not kept).
func (m *ManifestChecker) AddPart(j int, b []byte) error {
	if j < 0 || j >= m.Parts() {
		return corruptf("manifest part %d out of range 0..%d", j, m.Parts()-1)
	}
	if len(b) != m.partLen(j) {
		return corruptf("manifest part %d is %d bytes, expected %d", j, len(b), m.partLen(j))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if j == 0 {
		if m.table != nil {
			return nil
		}
		if sha256.Sum256(b) != m.root {
			return corruptf("manifest table does not match the header's manifest root")
		}
		m.table = append([]byte(nil), b...)
		return nil
	}
	if j > m.pieces {
		return m.addMapPart(j-1-m.pieces, b)
	}
	if m.hashes[j-1] != nil {
		return nil
	}
	if m.table == nil {
		return fmt.Errorf("%w: manifest piece %d before the table", ErrManifestPending, j-1)
	}
	if s := sha256.Sum256(b); [32]byte(m.table[(j-1)*hashLen:]) != s {
		return corruptf("manifest piece %d does not match the manifest table", j-1)
	}
	m.hashes[j-1] = append([]byte(nil), b...)
	m.have++
	return nil
}

// addMapPart verifies and keeps block map piece k; m.mu is held. The last
// piece in parses the whole map: one that verifies against the table but
// does not parse was made so by the image's creator, and is refused as
// corrupt for good (a receiver then gives up on resuming, not on the image).
func (m *ManifestChecker) addMapPart(k int, b []byte) error {
	if m.mapp[k] != nil {
		return nil
	}
	if m.table == nil {
		return fmt.Errorf("%w: block map piece %d before the table", ErrManifestPending, k)
	}
	if s := sha256.Sum256(b); [32]byte(m.table[(m.pieces+k)*hashLen:]) != s {
		return corruptf("block map piece %d does not match the manifest table", k)
	}
	m.mapp[k] = append([]byte(nil), b...)
	m.mapHave++
	if m.mapHave < m.mapq {
		return nil
	}
	raw := make([]byte, 0, m.mapLen)
	for _, p := range m.mapp {
		raw = append(raw, p...)
	}
	bm, err := ParseBlockMap(raw)
	if err == nil {
		err = bm.CheckHeader(m.h)
	}
	if err != nil {
		return err
	}
	m.bm = bm
	return nil
}

// Ready reports whether the piece holding chunk i's hash is verified.
func (m *ManifestChecker) Ready(i int) bool {
	if i < 0 || i >= m.count {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hashes[i*hashLen/m.piece] != nil
}

// Complete reports whether every part has been verified.
func (m *ManifestChecker) Complete() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.table != nil && m.have == m.pieces && m.mapHave == m.mapq
}

// MissingParts lists the parts not verified yet, in order.
func (m *ManifestChecker) MissingParts() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	if m.table == nil {
		out = append(out, 0)
	}
	for j, h := range m.hashes {
		if h == nil {
			out = append(out, j+1)
		}
	}
	for k, p := range m.mapp {
		if p == nil {
			out = append(out, 1+m.pieces+k)
		}
	}
	return out
}

// CheckChunk checks encoded chunk i (exactly the bytes received) against
// its manifest hash. Errors are *ChunkError wrapping ErrManifest (the
// chunk is not the image's: refuse it), ErrManifestPending (its piece is
// not verified yet) or ErrCorrupt (index out of range).
func (m *ManifestChecker) CheckChunk(i int, chunk []byte) error {
	return m.CheckHash(i, sha256.Sum256(chunk))
}

// CheckHash is CheckChunk for a chunk of which only the SHA-256 is at hand (a
// receiver of a stream remembers the hashes of what it wrote before the manifest
// existed).
func (m *ManifestChecker) CheckHash(i int, sum [32]byte) error {
	if i < 0 || i >= m.count {
		return &ChunkError{Index: -1, Offset: -1, Err: corruptf("chunk index %d, image has %d chunks", i, m.count)}
	}
	m.mu.Lock()
	p := m.hashes[i*hashLen/m.piece]
	m.mu.Unlock()
	if p == nil {
		return &ChunkError{Index: i, Offset: -1, Err: ErrManifestPending}
	}
	at := i*hashLen - (i*hashLen/m.piece)*m.piece
	if sum != [32]byte(p[at:]) {
		return &ChunkError{Index: i, Offset: -1, Err: errManifest("SHA-256 differs")}
	}
	return nil
}
