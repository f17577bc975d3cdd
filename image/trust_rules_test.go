package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestHeaderV2Rules(t *testing.T) {
	_, img, h := smallImage(t)
	_ = img
	for name, mod := range map[string]func(*Header){
		"preliminary with root": func(h *Header) { h.Complete, h.ChunkCount = false, 0 },
		"key ID without flag":   func(h *Header) { h.KeyID = KeyID{1} },
		"manifest too large":    func(h *Header) { h.ChunkSize, h.ChunkCount = MinChunkSize, maxManifestChunks(MinChunkSize)+1 },
	} {
		x := h.clone()
		mod(x)
		if _, err := x.MarshalBinary(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	x := h.clone()
	x.Encrypted, x.KeyID = true, KeyID{1, 2}
	b, err := x.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if y, err := ParseHeader(b); err != nil || *y != *x {
		t.Fatalf("round trip: %v", err)
	}
	if len(b) > headerMaxLen || headerMaxLen+sigBlockLen > MaxMetaLen {
		t.Fatal("header and signature do not fit the meta")
	}
}

func TestManifestPieces(t *testing.T) {
	// 5000 chunks of 64 KiB chunks: three pieces (2048 hashes each), the
	// last one short.
	const n = 5000
	h := &Header{ChunkSize: MinChunkSize, SectorSize: 512, Complete: true, ChunkCount: n, TargetSize: 0, Codec: CodecZstd, Level: 1}
	chunks := make([][]byte, n)
	hashes := make([][32]byte, n)
	for i := range chunks {
		chunks[i] = []byte{byte(i), byte(i >> 8), 'c'}
		hashes[i] = sha256.Sum256(chunks[i])
	}
	m, err := NewManifest(h, hashes)
	if err != nil {
		t.Fatal(err)
	}
	h.ManifestRoot = m.Root()
	if m.Parts() != 4 || h.ManifestParts() != 4 {
		t.Fatalf("parts %d/%d, want 4", m.Parts(), h.ManifestParts())
	}
	if last, _ := m.Part(3); len(last) != (n-2*2048)*32 {
		t.Fatalf("last piece %d bytes", len(last))
	}
	if _, err := m.Part(4); err == nil {
		t.Fatal("part beyond the end")
	}
	bad := append([][32]byte(nil), hashes...)
	bad[4999][0] ^= 1
	if _, err := NewManifest(h, bad); !errors.Is(err, ErrManifest) {
		t.Fatalf("wrong hashes for the root: %v", err)
	}
	mc, err := NewManifestChecker(h)
	if err != nil {
		t.Fatal(err)
	}
	p3, _ := m.Part(3)
	if err := mc.AddPart(3, p3); !errors.Is(err, ErrManifestPending) {
		t.Fatalf("piece before table: %v", err)
	}
	table, _ := m.Part(0)
	if err := mc.AddPart(0, table[:len(table)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short table: %v", err)
	}
	mc.AddPart(0, table)
	p1, _ := m.Part(1)
	if err := mc.AddPart(3, p1[:len(p3)]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another piece's bytes: %v", err)
	}
	if err := mc.AddPart(3, p3); err != nil {
		t.Fatal(err)
	}
	if !mc.Ready(4999) || mc.Ready(0) || mc.Ready(n) || mc.Ready(-1) {
		t.Fatal("Ready wrong")
	}
	if err := mc.CheckChunk(4999, chunks[4999]); err != nil {
		t.Fatal(err)
	}
	if err := mc.CheckChunk(4998, chunks[4999]); !errors.Is(err, ErrManifest) {
		t.Fatalf("chunk at another index: %v", err)
	}
	if err := mc.CheckChunk(10, chunks[10]); !errors.Is(err, ErrManifestPending) {
		t.Fatalf("chunk of a piece not in yet: %v", err)
	}
	if got := mc.MissingParts(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("missing %v", got)
	}
	// The checker refuses headers without a manifest.
	h2 := h.clone()
	h2.ManifestRoot = [32]byte{}
	if _, err := NewManifestChecker(h2); err == nil {
		t.Fatal("checker without root")
	}
}

func TestIndexManifestMismatch(t *testing.T) {
	_, img, _ := smallImage(t)
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	at := r.offs[len(r.offs)-1]
	bad := bytes.Clone(img)
	bad[at+indexFixed+8] ^= 1 // chunk 0's hash in the index
	idx := bad[at : len(bad)-trailerLen]
	le.PutUint64(bad[len(bad)-8:], xxhash.Sum64(idx))
	if _, err := Open(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrManifest) {
		t.Fatalf("index hash changed: %v", err)
	}
	// A chunk swapped with a rebuilt, consistent manifest gives another
	// root, so the original signature no longer holds.
	key, auth := testSigner(t, 5)
	tk, _ := ParseTrustedKeys(auth)
	sig, _ := Sign(r.Header(), key)
	var chunks [][]byte
	for i := range r.NumChunks() {
		c, _ := r.Chunk(i)
		chunks = append(chunks, c)
	}
	c := bytes.Clone(chunks[1])
	c[len(c)-1] ^= 1
	fixPayloadSum(c)
	chunks[1] = c
	forged := buildFile(r.Preliminary(), r.Header(), chunks, nil)
	fr, err := Open(bytes.NewReader(forged), int64(len(forged)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Check(fr.Header(), sig); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("forged manifest with the old signature: %v", err)
	}
}

// fixPayloadSum recomputes an encoded chunk's checksums after a change:
// what a forger does, so that only the manifest stands in the way.
func fixPayloadSum(c []byte) {
	hl := int(le.Uint16(c[34:]))
	le.PutUint64(c[64:], xxhash.Sum64(c[hl:]))
	le.PutUint64(c[hl-8:], xxhash.Sum64(c[:hl-8]))
}

func TestSealedChunkRules(t *testing.T) {
	data := trustData()
	k := testKey(t, 1)
	img, h, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, Encrypt: k})
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	c0, _ := r.Chunk(0)
	ch, _, err := ParseChunk(c0)
	if err != nil || !ch.Sealed {
		t.Fatalf("sealed chunk: %v", err)
	}
	put := func(c []byte) error {
		in, err := NewInstaller(&sizedTarget{buf: make([]byte, h.TargetSize)}, h, InstallConfig{Workers: 1, Decrypt: k})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Put(context.Background(), c); err != nil {
			in.Close()
			return err
		}
		in.Close()
		if in.Have(int(ch.Index)) {
			return nil
		}
		return errors.New("dropped after opening")
	}
	if err := put(c0); err != nil {
		t.Fatalf("good sealed chunk: %v", err)
	}
	// Ciphertext changed, checksums fixed: the tag refuses it.
	bad := bytes.Clone(c0)
	bad[ch.HeaderLen+3] ^= 1
	fixPayloadSum(bad)
	if put(bad) == nil {
		t.Fatal("changed ciphertext installed")
	}
	// The header is authenticated too: a changed span start.
	bad = bytes.Clone(c0)
	bad[48] ^= 1
	fixPayloadSum(bad)
	if put(bad) == nil {
		t.Fatal("changed header installed")
	}
	// A plain chunk in an encrypted image, and the reverse.
	plain, _, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, ID: h.ID})
	pr, _ := Open(bytes.NewReader(plain), int64(len(plain)))
	p0, _ := pr.Chunk(0)
	if err := put(p0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("plain chunk in an encrypted image: %v", err)
	}
	// Too short to hold a tag.
	short := bytes.Clone(p0[:chunkMinLen])
	short[5] |= cflagSealed
	if _, _, err := ParseChunk(short); err == nil {
		t.Fatal("sealed chunk without a tag parsed")
	}
	if _, _, err := createImage2(data, CreateConfig{Encrypt: k, ID: ID{1}}); err == nil {
		t.Fatal("encryption with a fixed ID accepted")
	}
	if _, err := NewKey(make([]byte, 31)); err == nil {
		t.Fatal("short key accepted")
	}
	if testKey(t, 1).ID() == testKey(t, 2).ID() || k.ID() != h.KeyID {
		t.Fatal("key IDs")
	}
}

func createImage2(data []byte, cfg CreateConfig) ([]byte, *Header, error) {
	var buf bytes.Buffer
	h, _, err := Create(context.Background(), NewSource(bytes.NewReader(data), int64(len(data))), &buf, cfg)
	return buf.Bytes(), h, err
}

func TestFileWriterV2(t *testing.T) {
	data := trustData()
	key, auth := testSigner(t, 3)
	tk, _ := ParseTrustedKeys(auth)
	k := testKey(t, 4)
	img, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize, Sign: key, Encrypt: k,
		BlockSize: NoBlockMap}) // (a keyed block map cannot be rebuilt from sealed chunks: TestKeyedBlockMap)
	r, _ := Open(bytes.NewReader(img), int64(len(img)))
	dir := t.TempDir()
	keep := func(name string, hdr *Header, sig *Signature, chunks func(i int) []byte) (string, error) {
		path := filepath.Join(dir, name)
		w, err := NewFileWriter(path, hdr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.SetSignature(sig); err != nil {
			t.Fatal(err)
		}
		for i := r.NumChunks() - 1; i >= 0; i-- {
			if err := w.Put(context.Background(), chunks(i)); err != nil {
				w.Abort()
				return path, err
			}
		}
		return path, w.Close()
	}
	orig := func(i int) []byte { c, _ := r.Chunk(i); return c }
	path, err := keep("signed.dsc", h, st.Signature, orig)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	if err := tk.Check(kr.Header(), kr.Signature()); err != nil {
		t.Fatalf("kept image lost its signature: %v", err)
	}
	if err := Verify(context.Background(), kr, InstallConfig{Decrypt: k}); err != nil {
		t.Fatalf("kept image: %v", err)
	}
	// From the preliminary header only (no signature): the manifest comes
	// from the chunks and is the creator's.
	path, err = keep("pre.dsc", r.Preliminary(), nil, orig)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := OpenFile(path)
	if pr == nil || pr.Header().ManifestRoot != h.ManifestRoot {
		t.Fatal("manifest root completed from the chunks differs")
	}
	pr.Close()
	// A forged (consistent) chunk under the real complete header: the
	// chunks no longer give its root, and nothing is left at the path.
	forged := func(i int) []byte {
		c := bytes.Clone(orig(i))
		if i == 1 {
			c[len(c)-1] ^= 1
			fixPayloadSum(c)
		}
		return c
	}
	path, err = keep("forged.dsc", h, nil, forged)
	if !errors.Is(err, ErrManifest) {
		t.Fatalf("forged chunk kept: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("file left after a manifest mismatch")
	}
	// A signature that is not the header's is refused at once.
	other, _ := testSigner(t, 9)
	osig, _ := Sign(h, other)
	osig.Sig[0] ^= 1
	w, _ := NewFileWriter(filepath.Join(dir, "x.dsc"), h)
	if err := w.SetSignature(osig); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("bad signature: %v", err)
	}
	w.Abort()
}

func TestSignFile(t *testing.T) {
	data := trustData()
	img, _, _ := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize})
	dir := t.TempDir()
	path := filepath.Join(dir, "i.dsc")
	os.WriteFile(path, img, 0o600)
	key, auth := testSigner(t, 7)
	tk, _ := ParseTrustedKeys(auth)
	// A destination that cannot be written leaves the image untouched.
	if _, err := SignFile(path, filepath.Join(dir, "no", "such", "dir"), key); err == nil {
		t.Fatal("signing into a missing directory succeeded")
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, img) {
		t.Fatal("failed signing changed the image")
	}
	if _, err := SignFile(path, "", key); err != nil {
		t.Fatal(err)
	}
	r, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := tk.Check(r.Header(), r.Signature()); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v not kept", st.Mode())
	}
	b, _ := os.ReadFile(path)
	end := r.offs[len(r.offs)-1]
	if !bytes.Equal(b[:end], img[:end]) {
		t.Fatal("signing changed prologue or chunks")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*")); len(m) != 0 {
		t.Fatalf("left %v", m)
	}
}

func TestMetaBounds(t *testing.T) {
	_, img, h := smallImage(t)
	_ = img
	key, _ := testSigner(t, 1)
	sig, _ := Sign(h, key)
	meta, _ := MarshalMeta(h, sig)
	if _, _, err := ParseMeta(append(meta, make([]byte, MaxMetaLen)...)); err == nil {
		t.Fatal("oversized meta")
	}
	pre := preliminary(h)
	pb, _ := pre.MarshalBinary()
	sb, _ := sig.MarshalBinary()
	if _, _, err := ParseMeta(append(pb, sb...)); err == nil {
		t.Fatal("signature after a preliminary header")
	}
	if _, err := MarshalMeta(pre, sig); err == nil {
		t.Fatal("MarshalMeta signed a preliminary header")
	}
	sb[5] = 2
	if _, err := ParseSignature(sb); !errors.Is(err, ErrVersion) {
		t.Fatalf("unknown algorithm: %v", err)
	}
}
