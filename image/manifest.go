package image

import (
	"crypto/sha256"
	"fmt"
)

// The manifest is the SHA-256 of every encoded chunk, in index order
// (32 bytes each). To travel in pieces no larger than a chunk it is cut
// into pieces of pieceLen(chunkSize) bytes; the table is the SHA-256 of
// each piece, back to back, and the header's ManifestRoot is SHA-256 of
// the table. A receiver that trusts the header (signed, or simply the one
// it announces) verifies the table, then each piece, then each chunk,
// whatever order they arrive in. docs/FORMAT.md, "Manifest".

const hashLen = 32

// pieceLen is the length of a full manifest piece: the chunk size rounded
// down to whole hashes.
func pieceLen(chunkSize uint32) int { return int(chunkSize) &^ (hashLen - 1) }

// maxManifestChunks bounds the chunk count so that the table (one hash per
// piece) fits one piece itself: at most (P/32)² chunks.
func maxManifestChunks(chunkSize uint32) uint32 {
	per := uint64(pieceLen(chunkSize) / hashLen)
	return uint32(min(per*per, MaxChunkCount))
}

// manifestPieces is the number of pieces of the manifest of count chunks.
func manifestPieces(chunkSize uint32, count int) int {
	per := pieceLen(chunkSize) / hashLen
	return (count + per - 1) / per
}

// mapPieces is the number of pieces of a block map of n bytes.
func mapPieces(chunkSize uint32, n uint32) int {
	p := pieceLen(chunkSize)
	return (int(n) + p - 1) / p
}

// ManifestParts is the number of manifest parts of the image (the table,
// the pieces and the block map's pieces), or 0 if h is not complete or has
// no manifest root. On a multicast session they follow the image's chunks.
func (h *Header) ManifestParts() int {
	if !h.Complete || h.ManifestRoot == ([32]byte{}) || h.ChunkCount == 0 || h.ChunkSize < MinChunkSize {
		return 0
	}
	return 1 + manifestPieces(h.ChunkSize, int(h.ChunkCount)) + mapPieces(h.ChunkSize, h.BlockMapLen)
}

// Manifest holds an image's chunk hashes and block map and serves them as
// parts: part 0 is the table, part j in 1..m is piece j−1, part m+1+k is
// piece k of the block map. The table is the SHA-256 of every piece, the
// block map's last, so the root commits to the map as well.
type Manifest struct {
	piece  int    // bytes in a full piece
	hashes []byte // hashLen per chunk
	mapb   []byte // the encoded block map, nil if none
	pieces int    // pieces of hashes
	table  []byte
	root   [32]byte
}

// NewManifest builds the manifest of an image of header h (which gives
// the chunk size; if complete, the chunk count and, if set, the root the
// hashes must give) from the SHA-256 of each encoded chunk, for an image
// without a block map.
func NewManifest(h *Header, hashes [][32]byte) (*Manifest, error) {
	return NewManifestMap(h, hashes, nil)
}

// NewManifestMap is NewManifest for an image with block map bm (nil if it
// has none: h.BlockMapLen is 0).
func NewManifestMap(h *Header, hashes [][32]byte, bm *BlockMap) (*Manifest, error) {
	if h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("image: manifest: chunk size %d out of range", h.ChunkSize)
	}
	if h.Complete && len(hashes) != int(h.ChunkCount) {
		return nil, fmt.Errorf("image: manifest: %d hashes for %d chunks", len(hashes), h.ChunkCount)
	}
	if len(hashes) == 0 || len(hashes) > int(maxManifestChunks(h.ChunkSize)) {
		return nil, fmt.Errorf("image: manifest: %d chunks out of range for chunk size %d", len(hashes), h.ChunkSize)
	}
	flat := make([]byte, 0, hashLen*len(hashes))
	for _, x := range hashes {
		flat = append(flat, x[:]...)
	}
	var mapb []byte
	if bm != nil {
		if err := bm.CheckHeader(h); err != nil {
			return nil, err
		}
		mapb = bm.raw
	} else if h.BlockMapLen != 0 {
		return nil, fmt.Errorf("%w: manifest: the image has a block map and none was given", ErrManifest)
	}
	m := newManifest(h.ChunkSize, flat, mapb)
	if h.ManifestRoot != ([32]byte{}) && m.root != h.ManifestRoot {
		return nil, fmt.Errorf("%w: the chunk hashes do not give the header's manifest root", ErrManifest)
	}
	return m, nil
}

// newManifest builds a manifest from the flat hash list and the encoded
// block map (nil if none), both owned by it.
func newManifest(chunkSize uint32, flat, mapb []byte) *Manifest {
	m := &Manifest{piece: pieceLen(chunkSize), hashes: flat, mapb: mapb}
	m.pieces = (len(flat) + m.piece - 1) / m.piece
	q := (len(mapb) + m.piece - 1) / m.piece
	m.table = make([]byte, 0, (m.pieces+q)*hashLen)
	for j := range m.pieces {
		s := sha256.Sum256(flat[j*m.piece : min((j+1)*m.piece, len(flat))])
		m.table = append(m.table, s[:]...)
	}
	for j := range q {
		s := sha256.Sum256(mapb[j*m.piece : min((j+1)*m.piece, len(mapb))])
		m.table = append(m.table, s[:]...)
	}
	m.root = sha256.Sum256(m.table)
	return m
}

// BlockMapBytes is the encoded block map the manifest commits to (nil if none).
func (m *Manifest) BlockMapBytes() []byte { return m.mapb }

// Root is the manifest root: SHA-256 of the table.
func (m *Manifest) Root() [32]byte { return m.root }

// Parts is 1 + the number of pieces (the table is part 0).
func (m *Manifest) Parts() int { return 1 + len(m.table)/hashLen }

// Len is the number of chunks.
func (m *Manifest) Len() int { return len(m.hashes) / hashLen }

// Hash is the SHA-256 of encoded chunk i.
func (m *Manifest) Hash(i int) [32]byte { return [32]byte(m.hashes[i*hashLen:]) }

// Part returns manifest part j: 0 the table, 1.. the pieces. The slice is
// the manifest's own; do not modify it.
func (m *Manifest) Part(j int) ([]byte, error) {
	switch {
	case j == 0:
		return m.table, nil
	case j > 0 && j <= m.pieces:
		return m.hashes[(j-1)*m.piece : min(j*m.piece, len(m.hashes))], nil
	case j > m.pieces && j < m.Parts():
		k := j - 1 - m.pieces
		return m.mapb[k*m.piece : min((k+1)*m.piece, len(m.mapb))], nil
	}
	return nil, fmt.Errorf("image: manifest part %d out of range 0..%d", j, m.Parts()-1)
}
