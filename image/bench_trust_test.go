package image

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// Trust costs on one core (each benchmark is sequential): the figures a
// receiver pays on top of an unsigned, plain transfer. s/GiB is CPU time
// per GiB of chunk bytes.

func reportPerGiB(b *testing.B, bytesPerOp int) {
	b.SetBytes(int64(bytesPerOp))
}

func perGiB(b *testing.B, bytesPerOp int) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*float64(1<<30)/float64(bytesPerOp), "s/GiB")
}

// trustBenchChunks: 1 MiB encoded chunks of an image of 32 MiB of the
// usual compressible data, with their manifest.
func trustBenchChunks(b *testing.B, cfg CreateConfig) ([][]byte, *Header, int) {
	data := benchData()[:32<<20]
	img, h, _ := createImage(b, NewSource(bytes.NewReader(data), int64(len(data))), cfg)
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		b.Fatal(err)
	}
	chunks := make([][]byte, r.NumChunks())
	total := 0
	for i := range chunks {
		chunks[i], _ = r.Chunk(i)
		total += len(chunks[i])
	}
	return chunks, h, total
}

// BenchmarkManifestCheck: SHA-256 of every chunk against the manifest
// (ManifestChecker.CheckChunk), the check a --trust receiver adds.
func BenchmarkManifestCheck(b *testing.B) {
	chunks, h, total := trustBenchChunks(b, CreateConfig{})
	mc, _ := NewManifestChecker(h)
	r := fromChunks(b, chunks, h)
	for j := range r.Parts() {
		p, _ := r.Part(j)
		if err := mc.AddPart(j, p); err != nil {
			b.Fatal(err)
		}
	}
	reportPerGiB(b, total)
	for b.Loop() {
		for i, c := range chunks {
			if err := mc.CheckChunk(i, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	perGiB(b, total)
}

func fromChunks(b *testing.B, chunks [][]byte, h *Header) *Manifest {
	var hashes [][32]byte
	for _, c := range chunks {
		hashes = append(hashes, sha256.Sum256(c))
	}
	m, err := NewManifest(h, hashes)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkSignatureCheck: TrustedKeys.Check of a signed header (one per
// session or image, so its cost per GiB is negligible).
func BenchmarkSignatureCheck(b *testing.B) {
	key, auth := testSigner(b, 1)
	_, h, _ := trustBenchChunks(b, CreateConfig{Sign: key})
	sig, _ := Sign(h, key)
	tk, _ := ParseTrustedKeys(auth)
	for b.Loop() {
		if err := tk.Check(h, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal and BenchmarkOpen: XChaCha20-Poly1305 over 1 MiB chunks.
func BenchmarkSeal(b *testing.B) {
	k := testKey(b, 3)
	chunks, _, total := trustBenchChunks(b, CreateConfig{})
	bufs := make([][]byte, len(chunks))
	for i, c := range chunks {
		c[5] &^= cflagSealed
		bufs[i] = make([]byte, len(c), len(c)+sealOverhead)
	}
	reportPerGiB(b, total)
	for b.Loop() {
		for i, c := range chunks {
			bufs[i] = bufs[i][:len(c)]
			copy(bufs[i], c) // ~free next to sealing; sealing works in place
			if _, err := k.sealChunk(bufs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	perGiB(b, total)
}

func BenchmarkOpen(b *testing.B) {
	k := testKey(b, 3)
	chunks, _, total := trustBenchChunks(b, CreateConfig{Encrypt: k})
	hs := make([]*ChunkHeader, len(chunks))
	for i, c := range chunks {
		var err error
		if hs[i], _, err = ParseChunk(c); err != nil {
			b.Fatal(err)
		}
	}
	dst := make([]byte, MaxChunkSize)
	reportPerGiB(b, total)
	for b.Loop() {
		for i, c := range chunks {
			if _, err := k.openChunk(hs[i], c, dst); err != nil {
				b.Fatal(err)
			}
		}
	}
	perGiB(b, total)
}
