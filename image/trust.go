package image

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/ssh"
)

// PassphraseEnv is the environment variable LoadSigningKey reads the
// passphrase of a protected key from: commands run from scripts, where a
// prompt would hang.
const PassphraseEnv = "DISCUS_KEY_PASSPHRASE"

// maxKeyFile bounds the key files read (authorized_keys, private keys):
// real ones are a few KiB.
const maxKeyFile = 1 << 20

// TrustedKeys is a set of ed25519 public keys an image must be signed by.
type TrustedKeys struct {
	keys []ed25519.PublicKey
}

// ParseTrustedKeys reads keys in OpenSSH authorized_keys format. Only
// ssh-ed25519 keys count; other key types, comments, blank lines and
// options are skipped. It fails if no ed25519 key is found, since an empty
// set would refuse every image for a reason the user would not see.
func ParseTrustedKeys(authorizedKeys []byte) (*TrustedKeys, error) {
	t := &TrustedKeys{}
	rest := authorizedKeys
	for len(bytes.TrimSpace(rest)) > 0 {
		pk, _, _, r, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			break // no further parseable key
		}
		rest = r
		if pk.Type() != ssh.KeyAlgoED25519 {
			continue
		}
		cpk, ok := pk.(ssh.CryptoPublicKey)
		if !ok {
			continue
		}
		if ed, ok := cpk.CryptoPublicKey().(ed25519.PublicKey); ok {
			t.keys = append(t.keys, ed)
		}
	}
	if len(t.keys) == 0 {
		return nil, errors.New("image: no ssh-ed25519 public key in the trusted keys")
	}
	return t, nil
}

// LoadTrustedKeys reads an authorized_keys-style file (ParseTrustedKeys).
func LoadTrustedKeys(path string) (*TrustedKeys, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTrustedKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Len is the number of trusted keys.
func (k *TrustedKeys) Len() int { return len(k.keys) }

// Check accepts an image only if sig is a valid signature of h by one of
// the trusted keys. Errors wrap ErrUnsigned (sig is nil) or ErrUntrusted.
func (k *TrustedKeys) Check(h *Header, sig *Signature) error {
	if sig == nil {
		return fmt.Errorf("%w: trusted keys were given, so only signed images are accepted", ErrUnsigned)
	}
	trusted := false
	for _, pk := range k.keys {
		if pk.Equal(sig.PublicKey) {
			trusted = true
			break
		}
	}
	if !trusted {
		return fmt.Errorf("%w: signed by %s, which is not a trusted key", ErrUntrusted, sig.Fingerprint())
	}
	return sig.Verify(h)
}

// LoadSigningKey reads an OpenSSH ed25519 private key, as
// `ssh-keygen -t ed25519` writes it. A passphrase-protected key is opened
// with the passphrase in $DISCUS_KEY_PASSPHRASE.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ssh.ParseRawPrivateKey(b)
	var pe *ssh.PassphraseMissingError
	if errors.As(err, &pe) {
		pass, ok := os.LookupEnv(PassphraseEnv)
		if !ok {
			return nil, fmt.Errorf("%s: the key is protected by a passphrase: put it in the environment variable %s", path, PassphraseEnv)
		}
		k, err = ssh.ParseRawPrivateKeyWithPassphrase(b, []byte(pass))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenSSH private key: %w", path, err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ed25519.PrivateKey:
		return *k, nil
	}
	return nil, fmt.Errorf("%s: a %T is not an ed25519 key; make one with: ssh-keygen -t ed25519", path, k)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a key file", path, maxKeyFile)
	}
	return b, nil
}
