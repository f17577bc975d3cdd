package image

import (
	"context"
	"crypto/sha256"
)

// Signature returns the image's signature, or nil if it is unsigned. Open
// has checked that it verifies with its own public key.
func (r *Reader) Signature() *Signature { return r.sig }

// Manifest returns the image's manifest (from the index, checked against
// the header's ManifestRoot by Open).
func (r *Reader) Manifest() *Manifest { return r.m }

// ManifestParts is the number of manifest parts (Manifest.Parts).
func (r *Reader) ManifestParts() int { return r.m.Parts() }

// ManifestPart returns manifest part j: 0 the table, 1.. the pieces.
func (r *Reader) ManifestPart(j int) ([]byte, error) { return r.m.Part(j) }

// BlockMap returns the image's block map (checked against the manifest
// root by Open), or nil if it has none.
func (r *Reader) BlockMap() *BlockMap { return r.bm }

// ChunkHash is the SHA-256 the manifest gives for encoded chunk i.
func (r *Reader) ChunkHash(i int) [32]byte { return r.m.Hash(i) }

// VerifyManifest reads every chunk and checks its SHA-256 against the
// manifest, and nothing else: the cheap pass that lets a caller refuse a
// tampered image before writing its first byte. Errors are *ChunkError
// wrapping ErrManifest, or read errors.
func (r *Reader) VerifyManifest(ctx context.Context) error {
	var buf []byte
	for i := range r.NumChunks() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := r.ReadChunk(i, buf)
		if err != nil {
			return err
		}
		if sha256.Sum256(c) != r.m.Hash(i) {
			return &ChunkError{Index: i, Offset: r.offs[i], Err: errManifest("SHA-256 differs from the index")}
		}
		buf = c
	}
	return nil
}
