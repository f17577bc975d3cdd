package image

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
)

// An encrypted image's block map is keyed (docs/FORMAT.md, "Block map"): its hashes
// are HMAC-SHA256 under a key derived from the image key, not SHA-256, so that they
// say nothing about the plain blocks to whoever lacks the key (plain hashes would let
// anyone confirm a guess of a block's content), while a receiver that holds the key
// can still hash its own target and resume (HashTarget with WithKey).

const mapFlagKeyed = 1 << 1 // byte 6 of the map: hashes are HMAC-SHA256 under the image's map key

// ErrMapKey: an encrypted image's block map was used without its key.
var ErrMapKey = errors.New("image: an encrypted image's block map needs the image key")

// Keyed reports whether the map's hashes are keyed (an encrypted image's).
func (m *BlockMap) Keyed() bool { return m.keyed }

// WithKey returns the map ready to hash with key k (a keyed map needs it; for a map
// that is not keyed it returns m). The map itself is shared, not copied.
func (m *BlockMap) WithKey(k *Key) *BlockMap {
	if !m.keyed || k == nil {
		return m
	}
	c := *m
	c.key = k.mapKey
	return &c
}

// hasher returns a new hash of the map's kind: SHA-256, or HMAC-SHA256 with the
// map's key (ErrMapKey without one).
func (m *BlockMap) hasher() (hash.Hash, error) {
	if !m.keyed {
		return sha256.New(), nil
	}
	if m.key == nil {
		return nil, ErrMapKey
	}
	return hmac.New(sha256.New, m.key), nil
}
