package image

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/crypto/chacha20poly1305"
)

// MinKeyLen is the least number of bytes a key file must hold.
const MinKeyLen = 32

// sealOverhead is what sealing adds to a payload (the Poly1305 tag).
const sealOverhead = chacha20poly1305.Overhead

// HKDF labels. The AEAD key and the key ID come from the key file's bytes
// by separate labels, so the ID (written in every header, readable by
// anyone) says nothing about the key. The labels also keep these keys
// apart from any other use of the same secret (mcsend --key).
const (
	hkdfChunkKey = "discus/2 image chunk key"
	hkdfKeyID    = "discus/2 image key id"
	hkdfMapKey   = "discus/5 image block map key" // blockmap_keyed.go
)

// KeyID names an image encryption key without revealing it.
type KeyID [8]byte

// IsZero reports whether id is unset.
func (id KeyID) IsZero() bool { return id == KeyID{} }

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// Key is an image encryption key: chunks are sealed with
// XChaCha20-Poly1305 under a key derived from a secret of at least
// MinKeyLen bytes.
type Key struct {
	aead   cipher.AEAD
	id     KeyID
	mapKey []byte // HMAC key of an encrypted image's block map
}

// NewKey derives an image key from secret (at least MinKeyLen bytes, e.g.
// 32 random ones).
func NewKey(secret []byte) (*Key, error) {
	if len(secret) < MinKeyLen {
		return nil, fmt.Errorf("image: key of %d bytes; at least %d are needed (head -c 32 /dev/urandom > img.key)", len(secret), MinKeyLen)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, hkdfChunkKey, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	id, err := hkdf.Key(sha256.New, secret, nil, hkdfKeyID, len(KeyID{}))
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	mk, err := hkdf.Key(sha256.New, secret, nil, hkdfMapKey, 32)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead, id: KeyID(id), mapKey: mk}, nil
}

// LoadKey reads a key file (NewKey of its bytes).
func LoadKey(path string) (*Key, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := NewKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ID is the key's ID, as written in the headers of the images it seals.
func (k *Key) ID() KeyID { return k.id }

// chunkNonce is image ID (16) ‖ chunk index (4, LE) ‖ 0000: unique per
// chunk of an image, and image IDs are random per creation.
func chunkNonce(c []byte) []byte {
	n := make([]byte, chacha20poly1305.NonceSizeX)
	copy(n, c[8:24])
	copy(n[16:20], c[24:28])
	return n
}

// chunkAD is the sealed chunk's additional data: its header without the
// payload checksum and the header checksum (which depend on the sealed
// payload). It binds the payload to its image, index, span and ranges.
func chunkAD(c []byte, hl int) []byte {
	ad := make([]byte, 0, hl-16)
	ad = append(ad, c[:64]...)
	return append(ad, c[chunkFixedLen:hl-8]...)
}

// sealChunk seals the payload of an encoded plain chunk c in place and
// returns the sealed chunk; cap(c) must leave sealOverhead bytes of room.
// The chunk's index must be final: the nonce and additional data hold it.
func (k *Key) sealChunk(c []byte) ([]byte, error) {
	hl := int(le.Uint16(c[34:]))
	n := len(c) - hl
	if cap(c)-len(c) < sealOverhead || c[5]&cflagSealed != 0 {
		return nil, errors.New("image: internal error: chunk cannot be sealed")
	}
	c[5] |= cflagSealed
	le.PutUint32(c[40:], uint32(n+sealOverhead))
	sealed := k.aead.Seal(c[hl:hl], chunkNonce(c), c[hl:], chunkAD(c, hl))
	c = c[:hl+len(sealed)]
	le.PutUint64(c[64:], xxhash.Sum64(c[hl:]))
	le.PutUint64(c[hl-8:], xxhash.Sum64(c[:hl-8]))
	return c, nil
}

// openChunk authenticates and decrypts the payload of a parsed sealed
// chunk into dst (reused if large enough).
func (k *Key) openChunk(ch *ChunkHeader, c []byte, dst []byte) ([]byte, error) {
	hl := ch.HeaderLen
	out, err := k.aead.Open(dst[:0], chunkNonce(c), c[hl:], chunkAD(c, hl))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed payload does not authenticate", ErrCorrupt)
	}
	return out, nil
}

// CheckKey refuses (ErrKey) an encrypted image without a key (k nil) or
// with a key of another ID; any key does for an image that is not
// encrypted. Installers check this themselves; a command checks it first
// to refuse before it touches its target.
func (h *Header) CheckKey(k *Key) error { return checkKey(h, k) }

func checkKey(h *Header, k *Key) error {
	if !h.Encrypted {
		return nil
	}
	if k == nil {
		return fmt.Errorf("%w: the image is encrypted (key ID %s); give its key", ErrKey, h.KeyID)
	}
	if k.id != h.KeyID {
		return fmt.Errorf("%w: the image needs key ID %s, the key given is %s", ErrKey, h.KeyID, k.id)
	}
	return nil
}
