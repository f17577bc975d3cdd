package image

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// A signed image's signature is ed25519 over sigDomain followed by the
// complete header's bytes (MarshalBinary). The header holds ManifestRoot,
// which pins every chunk's SHA-256, so one signature covers the whole
// image. The domain string keeps the signature from being valid for
// anything else the same key signs (an SSH login, another format).
const sigDomain = "discus image signature v2\x00"

// Signature block layout (docs/FORMAT.md, "Signature block"):
//
//	"DSSG" version alg(1 = ed25519) reserved[2] public key[32] signature[64]
const (
	sigBlockLen  = 104
	sigAlgEd2551 = 1
)

// MaxMetaLen bounds MarshalMeta's output: what a multicast announce
// carries. The largest header (headerMaxLen) plus a signature block fit.
const MaxMetaLen = 1024

// Signature is an image's signature: the signer's public key and the
// ed25519 signature of the complete header.
type Signature struct {
	PublicKey ed25519.PublicKey
	Sig       []byte
}

// signedMessage is what the signature covers for header h.
func signedMessage(h *Header) ([]byte, error) {
	if !h.Complete || h.ManifestRoot == ([32]byte{}) {
		return nil, errors.New("image: only a complete header with a manifest root can be signed")
	}
	hb, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append([]byte(sigDomain), hb...), nil
}

// Sign signs the complete header h with key.
func Sign(h *Header, key ed25519.PrivateKey) (*Signature, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("image: signing key is not an ed25519 private key")
	}
	msg, err := signedMessage(h)
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	return &Signature{PublicKey: pub, Sig: ed25519.Sign(key, msg)}, nil
}

// Verify checks that s is a valid signature of h by s.PublicKey (whether
// that key is trusted is TrustedKeys.Check's business). The error wraps
// ErrUntrusted.
func (s *Signature) Verify(h *Header) error {
	if len(s.PublicKey) != ed25519.PublicKeySize || len(s.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrUntrusted)
	}
	msg, err := signedMessage(h)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if !ed25519.Verify(s.PublicKey, msg, s.Sig) {
		return fmt.Errorf("%w: the signature by %s does not match the image header", ErrUntrusted, s.Fingerprint())
	}
	return nil
}

// Fingerprint is the signer's key fingerprint as ssh-keygen -l prints it
// ("SHA256:...").
func (s *Signature) Fingerprint() string {
	pk, err := ssh.NewPublicKey(s.PublicKey)
	if err != nil {
		return "(invalid key)"
	}
	return ssh.FingerprintSHA256(pk)
}

// MarshalBinary encodes the signature block.
func (s *Signature) MarshalBinary() ([]byte, error) {
	if len(s.PublicKey) != ed25519.PublicKeySize || len(s.Sig) != ed25519.SignatureSize {
		return nil, errors.New("image: malformed signature")
	}
	b := make([]byte, 0, sigBlockLen)
	b = append(b, sigMagic[:]...)
	b = append(b, formatVersion, sigAlgEd2551, 0, 0)
	b = append(b, s.PublicKey...)
	return append(b, s.Sig...), nil
}

// ParseSignature decodes a signature block (exactly sigBlockLen bytes). It
// does not verify the signature (Verify, TrustedKeys.Check do).
func ParseSignature(b []byte) (*Signature, error) {
	if len(b) != sigBlockLen {
		return nil, corruptf("signature block: %d bytes, expected %d", len(b), sigBlockLen)
	}
	if [4]byte(b[0:4]) != sigMagic {
		return nil, corruptf("signature block: bad magic %q", b[0:4])
	}
	if b[4] != formatVersion {
		return nil, fmt.Errorf("%w: signature block version %d", ErrVersion, b[4])
	}
	if b[5] != sigAlgEd2551 {
		return nil, fmt.Errorf("%w: signature algorithm %d", ErrVersion, b[5])
	}
	if b[6] != 0 || b[7] != 0 {
		return nil, corruptf("signature block: reserved bytes not zero")
	}
	return &Signature{
		PublicKey: ed25519.PublicKey(append([]byte(nil), b[8:40]...)),
		Sig:       append([]byte(nil), b[40:104]...),
	}, nil
}

// MarshalMeta encodes what a multicast announce carries about the image:
// the header, then the signature block if sig is not nil (a signature
// needs a complete header). At most MaxMetaLen bytes.
func MarshalMeta(h *Header, sig *Signature) ([]byte, error) {
	hb, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if sig == nil {
		return hb, nil
	}
	if !h.Complete {
		return nil, errors.New("image: a signature needs the complete header")
	}
	sb, err := sig.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(hb, sb...), nil
}

// ParseMeta decodes MarshalMeta's output. sig is nil for an unsigned
// image. The signature is parsed, not verified: TrustedKeys.Check does.
func ParseMeta(b []byte) (*Header, *Signature, error) {
	if len(b) > MaxMetaLen {
		return nil, nil, corruptf("meta: %d bytes, at most %d", len(b), MaxMetaLen)
	}
	n, err := headerLen(b)
	if err != nil {
		return nil, nil, err
	}
	if n > len(b) {
		return nil, nil, fmt.Errorf("%w: meta: %d bytes, header needs %d", ErrTruncated, len(b), n)
	}
	h, err := ParseHeader(b[:n])
	if err != nil {
		return nil, nil, err
	}
	if n == len(b) {
		return h, nil, nil
	}
	sig, err := ParseSignature(b[n:])
	if err != nil {
		return nil, nil, err
	}
	if !h.Complete {
		return nil, nil, corruptf("meta: signature with a preliminary header")
	}
	return h, sig, nil
}
