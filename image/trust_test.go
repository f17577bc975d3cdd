package image

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"golang.org/x/crypto/ssh"
)

func testSigner(t testing.TB, seed byte) (ed25519.PrivateKey, []byte) {
	t.Helper()
	var s [32]byte
	s[0] = seed
	k := ed25519.NewKeyFromSeed(s[:])
	pk, err := ssh.NewPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k, ssh.MarshalAuthorizedKey(pk)
}

func testKey(t testing.TB, seed byte) *Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func trustData() []byte {
	d := append(compressible(7, 300<<10), make([]byte, 64<<10)...)
	return append(d, randomBytes(7, 100<<10)...)
}

func TestSignedImage(t *testing.T) {
	data := trustData()
	key, auth := testSigner(t, 1)
	img, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, Sign: key})
	if st.Signature == nil || st.Manifest == nil || st.Manifest.Root() != h.ManifestRoot || h.ManifestRoot == ([32]byte{}) {
		t.Fatal("creation did not produce a signature and manifest")
	}
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Signature() == nil || !r.Signature().PublicKey.Equal(key.Public()) {
		t.Fatal("signature not read back")
	}
	tk, err := ParseTrustedKeys(append([]byte("# lab keys\n\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ bogus\n"), auth...))
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Check(r.Header(), r.Signature()); err != nil {
		t.Fatalf("trusted signer refused: %v", err)
	}
	_, other := testSigner(t, 2)
	tk2, _ := ParseTrustedKeys(other)
	if err := tk2.Check(r.Header(), r.Signature()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("wrong signer: %v", err)
	}
	if err := tk.Check(r.Header(), nil); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	// A header changed after signing no longer verifies.
	h2 := r.Header().clone()
	h2.Source = "elsewhere"
	if err := tk.Check(h2, r.Signature()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("changed header: %v", err)
	}
	// Meta round trip.
	meta, err := MarshalMeta(r.Header(), r.Signature())
	if err != nil || len(meta) > MaxMetaLen {
		t.Fatalf("MarshalMeta: %d bytes, %v", len(meta), err)
	}
	mh, msig, err := ParseMeta(meta)
	if err != nil || msig == nil || tk.Check(mh, msig) != nil {
		t.Fatalf("ParseMeta: %v", err)
	}
	if _, s, err := ParseMeta(meta[:len(meta)-sigBlockLen]); err != nil || s != nil {
		t.Fatalf("unsigned meta: %v", err)
	}
	if _, _, err := ParseMeta(meta[:len(meta)-1]); err == nil {
		t.Fatal("cut signature accepted")
	}
	if err := Verify(context.Background(), r, InstallConfig{}); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, installImage(t, img, InstallConfig{}, nil), data)
}

func TestManifestChecker(t *testing.T) {
	data := trustData()
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	if h.ManifestParts() != r.ManifestParts() || h.ManifestParts() < 2 {
		t.Fatalf("parts: header %d, reader %d", h.ManifestParts(), r.ManifestParts())
	}
	mc, err := NewManifestChecker(h)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := r.ManifestPart(1)
	if err := mc.AddPart(1, p1); !errors.Is(err, ErrManifestPending) {
		t.Fatalf("piece before table: %v", err)
	}
	c0, _ := r.Chunk(0)
	if err := mc.CheckChunk(0, c0); !errors.Is(err, ErrManifestPending) || mc.Ready(0) {
		t.Fatalf("chunk before its piece: %v", err)
	}
	tb, _ := r.ManifestPart(0)
	bad := bytes.Clone(tb)
	bad[0] ^= 1
	if err := mc.AddPart(0, bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("forged table: %v", err)
	}
	for j := range r.ManifestParts() {
		p, _ := r.ManifestPart(j)
		if err := mc.AddPart(j, p); err != nil {
			t.Fatalf("part %d: %v", j, err)
		}
	}
	if !mc.Complete() || len(mc.MissingParts()) != 0 {
		t.Fatal("checker not complete")
	}
	for i := range r.NumChunks() {
		c, _ := r.Chunk(i)
		if err := mc.CheckChunk(i, c); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	c0[len(c0)-1] ^= 1
	if err := mc.CheckChunk(0, c0); !errors.Is(err, ErrManifest) {
		t.Fatalf("changed chunk: %v", err)
	}
}

func TestEncryptedImage(t *testing.T) {
	data := trustData()
	k := testKey(t, 9)
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, Encrypt: k})
	if !h.Encrypted || h.KeyID != k.ID() {
		t.Fatal("header does not say encrypted")
	}
	if bytes.Contains(img, data[len(data)-4096:]) {
		t.Fatal("plaintext visible in the encrypted image")
	}
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(context.Background(), r, InstallConfig{}); err != nil {
		t.Fatalf("verify without key: %v", err)
	}
	if err := Verify(context.Background(), r, InstallConfig{Decrypt: k}); err != nil {
		t.Fatalf("verify with key: %v", err)
	}
	for _, bad := range []*Key{nil, testKey(t, 10)} {
		if _, err := NewInstaller(&sizedTarget{buf: make([]byte, h.TargetSize)}, h, InstallConfig{Decrypt: bad}); !errors.Is(err, ErrKey) {
			t.Fatalf("key %v: %v", bad, err)
		}
	}
	mustEqual(t, installImage(t, img, InstallConfig{Decrypt: k}, func(ix []int) {
		for i, j := 0, len(ix)-1; i < j; i, j = i+1, j-1 {
			ix[i], ix[j] = ix[j], ix[i]
		}
	}), data)
	if _, err := VerifyStream(context.Background(), bytes.NewReader(img), InstallConfig{}); err != nil {
		t.Fatalf("stream verify without key: %v", err)
	}
	if _, err := VerifyStream(context.Background(), bytes.NewReader(img), InstallConfig{Decrypt: k}); err != nil {
		t.Fatalf("stream verify with key: %v", err)
	}
}
