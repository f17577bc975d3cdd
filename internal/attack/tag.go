package attack

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
)

// Keyer makes and checks keyed trailers as docs/PROTOCOL.md §1.8 defines
// them, for an insider: a node that holds the group key (a lab machine's
// copy of it) but not the image signing key. Trailer = epoch u64 ‖ counter
// u64 ‖ tag[16]; tag = AES-256-GCM, empty plaintext, additional data =
// every byte before the tag; key = HKDF-SHA256(secret, salt "discus/3
// packet", info = session ‖ epoch ‖ uint32(counter>>32)); nonce = node ‖
// uint32(counter).
type Keyer struct {
	secret []byte
	keys   map[[28]byte]cipher.AEAD
}

// LoadKeyer reads a shared secret file (at least 32 bytes).
func LoadKeyer(path string) (*Keyer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 32 {
		return nil, errors.New("attack: a key file holds at least 32 bytes")
	}
	return &Keyer{secret: b, keys: map[[28]byte]cipher.AEAD{}}, nil
}

func (k *Keyer) aead(session [16]byte, epoch, counter uint64) (cipher.AEAD, error) {
	var info [28]byte
	copy(info[:16], session[:])
	binary.BigEndian.PutUint64(info[16:], epoch)
	binary.BigEndian.PutUint32(info[24:], uint32(counter>>32))
	if a := k.keys[info]; a != nil {
		return a, nil
	}
	key, err := hkdf.Key(sha256.New, k.secret, []byte("discus/3 packet"), string(info[:]), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(k.keys) > 64 {
		clear(k.keys)
	}
	k.keys[info] = a
	return a, nil
}

func nonce(node, counter uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, node)
	binary.BigEndian.PutUint32(n[8:], uint32(counter))
	return n
}

// Seal appends a valid keyed trailer to b (a version 3 packet with flag 0x80
// set and no trailer yet).
func (k *Keyer) Seal(b []byte, epoch, counter uint64) ([]byte, error) {
	if len(b) < HeaderLen {
		return nil, ErrShort
	}
	var session [16]byte
	copy(session[:], b[8:24])
	a, err := k.aead(session, epoch, counter)
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint64(b, epoch)
	b = binary.BigEndian.AppendUint64(b, counter)
	ad := append([]byte(nil), b...) // dst and additional data must not overlap
	return a.Seal(b, nonce(binary.BigEndian.Uint64(b[24:32]), counter), nil, ad), nil
}

// Verify reports whether a whole keyed packet's tag is valid under the key.
func (k *Keyer) Verify(p []byte) bool {
	if len(p) < HeaderLen+TagLen || p[6]&FlagAuth == 0 {
		return false
	}
	var session [16]byte
	copy(session[:], p[8:24])
	n := len(p) - TagLen
	epoch := binary.BigEndian.Uint64(p[n:])
	counter := binary.BigEndian.Uint64(p[n+8:])
	a, err := k.aead(session, epoch, counter)
	if err != nil {
		return false
	}
	_, err = a.Open(nil, nonce(binary.BigEndian.Uint64(p[24:32]), counter), p[n+16:], p[:n+16])
	return err == nil
}
