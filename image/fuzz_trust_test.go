package image

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// fuzzSignedImage is fuzzImage signed with a fixed test key.
func fuzzSignedImage() ([]byte, *Reader) {
	img := fuzzImage()
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		panic(err)
	}
	var seed [32]byte
	seed[0] = 42
	var buf bytes.Buffer
	sig, err := Sign(r.Header(), ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err)
	}
	if err := r.WriteSigned(&buf, sig); err != nil {
		panic(err)
	}
	b := buf.Bytes()
	r, err = Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		panic(err)
	}
	return b, r
}

// FuzzParseMeta: announce metadata from the network. A meta that parses
// re-encodes to the same bytes, and never exceeds MaxMetaLen.
func FuzzParseMeta(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzParseMeta (signed, unsigned, preliminary).
	f.Fuzz(func(t *testing.T, b []byte) {
		h, sig, err := ParseMeta(b)
		if err != nil {
			return
		}
		again, err := MarshalMeta(h, sig)
		if err != nil || !bytes.Equal(again, b) || len(again) > MaxMetaLen {
			t.Fatalf("re-encoding differs: %v", err)
		}
		// Checking a parsed signature never panics, whatever the key.
		if sig != nil {
			sig.Verify(h)
			sig.Fingerprint()
		}
	})
}

// FuzzParseSignature: the signature block alone.
func FuzzParseSignature(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzParseSignature.
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := ParseSignature(b)
		if err != nil {
			return
		}
		again, err := sig.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzParseIndex: the v2 index block (offsets, chunk hashes, header,
// signature) as Open and ScanStream read it, bounds taken from the seed
// image. Allocation is bounded by len(b).
func FuzzParseIndex(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzParseIndex (signed and unsigned indexes).
	f.Fuzz(func(t *testing.T, b []byte, first, at uint32) {
		ix, err := parseIndex(b, int64(first), int64(at))
		if err != nil {
			return
		}
		if ix.m.Root() != ix.h.ManifestRoot || len(ix.offs) != int(ix.h.ChunkCount)+1 {
			t.Fatal("index accepted with an inconsistent manifest")
		}
		for j := range ix.m.Parts() {
			if _, err := ix.m.Part(j); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzManifestChecker feeds arbitrary manifest parts and chunks to the
// checker of the fuzz image: a part it accepts is the real one, and a chunk
// it accepts is the real chunk.
func FuzzManifestChecker(f *testing.F) {
	_, r := fuzzSignedImage()
	h := r.Header()
	// Seeds: testdata/fuzz/FuzzManifestChecker (the real parts).
	real := make(map[int][]byte)
	for j := range r.ManifestParts() {
		p, _ := r.ManifestPart(j)
		real[j] = p
	}
	chunks := make([][]byte, r.NumChunks())
	for i := range chunks {
		chunks[i], _ = r.Chunk(i)
	}
	f.Fuzz(func(t *testing.T, j int, b []byte, i int, c []byte) {
		mc, err := NewManifestChecker(h)
		if err != nil {
			t.Fatal(err)
		}
		if j != 0 { // a piece needs the table first
			mc.AddPart(0, real[0])
		}
		if err := mc.AddPart(j, b); err == nil && !bytes.Equal(b, real[j]) {
			t.Fatalf("forged part %d accepted", j)
		}
		if err := mc.CheckChunk(i, c); err == nil && !bytes.Equal(c, chunks[i]) {
			t.Fatalf("forged chunk %d accepted", i)
		}
		mc.Ready(i)
		mc.MissingParts()
	})
}
