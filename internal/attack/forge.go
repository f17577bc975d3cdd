package attack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/image"
)

// ForgeChunk0 returns a well-formed chunk 0 of image id: its own span
// [0, rawLen), one range holding rawLen bytes of attacker data (random, so
// stored uncompressed), correct xxhash64s, not flagged as the last chunk. It
// is built with package image's public encoder (whatever chunk format it
// writes today) and then re-flagged by hand from docs/FORMAT.md.
func ForgeChunk0(id image.ID, chunkSize uint32, rawLen int, seed uint64) ([]byte, error) {
	if rawLen <= 0 {
		return nil, errors.New("attack: forged chunk needs at least one byte")
	}
	rng := rand.New(rand.NewPCG(seed, 0xbad))
	raw := make([]byte, rawLen)
	for i := range raw {
		raw[i] = byte(rng.Uint32()) | 1 // never an all-zero block
	}
	var chunk []byte
	_, _, err := image.CreateChunks(context.Background(), image.NewSource(bytes.NewReader(raw), int64(len(raw))),
		image.CreateConfig{ID: id, ChunkSize: int(chunkSize), Workers: 1}, func(i int, c []byte) error {
			if i == 0 {
				chunk = append([]byte(nil), c...)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if chunk == nil {
		return nil, errors.New("attack: image encoder emitted no chunk")
	}
	// FORMAT.md "Chunk": flags at 5 (bit 0 LAST), count at 28 (u32 LE), H at
	// 34 (u16 LE), header xxhash64 at H-8 over [0, H-8).
	patched := append([]byte(nil), chunk...)
	patched[5] &^= 1
	binary.LittleEndian.PutUint32(patched[28:], 0)
	hl := int(binary.LittleEndian.Uint16(patched[34:]))
	if hl >= 80 && hl <= len(patched) {
		binary.LittleEndian.PutUint64(patched[hl-8:], xxhash.Sum64(patched[:hl-8]))
		if h, _, err := image.ParseChunk(patched); err == nil && !h.Last && h.Index == 0 {
			return patched, nil
		}
	}
	return chunk, nil // the format moved on: the unpatched chunk is still well-formed
}

// ForgeChunk0Len is ForgeChunk0 with the encoded length made exactly total
// bytes (the real chunk 0's length, learnt from its data packets), so the
// forgery has the real chunk's geometry (K, M).
func ForgeChunk0Len(id image.ID, chunkSize uint32, total int, seed uint64) ([]byte, error) {
	probe, err := ForgeChunk0(id, chunkSize, 4096, seed)
	if err != nil {
		return nil, err
	}
	h, _, err := image.ParseChunk(probe)
	if err != nil {
		return nil, err
	}
	raw := total - h.HeaderLen
	if raw <= 0 {
		return nil, fmt.Errorf("attack: a %d-byte chunk has no room for data", total)
	}
	c, err := ForgeChunk0(id, chunkSize, raw, seed)
	if err != nil {
		return nil, err
	}
	if len(c) != total {
		return c, fmt.Errorf("attack: forged chunk is %d bytes, wanted %d", len(c), total)
	}
	return c, nil
}

// Blocks cuts a chunk into its K data blocks and M parity blocks as the
// session's code makes them (package fec; PROTOCOL.md §2).
func Blocks(chunk []byte, blockSize, maxParity int) (dataBlocks, parity [][]byte, err error) {
	enc, err := fec.NewEncoder(fec.Params{BlockSize: blockSize, MaxParity: maxParity}, chunk)
	if err != nil {
		return nil, nil, err
	}
	for i := range enc.K() + enc.M() {
		b, err := enc.Block(i)
		if err != nil {
			return nil, nil, err
		}
		b = append([]byte(nil), b...)
		if i < enc.K() {
			dataBlocks = append(dataBlocks, b)
		} else {
			parity = append(parity, b)
		}
	}
	return dataBlocks, parity, nil
}

// SplitMeta finds the image header at the start of an announce's meta (the
// header, then in image format 2 an optional signature block) by trying
// every length until package image's parser accepts one.
func SplitMeta(meta []byte) (*image.Header, int, error) {
	for n := 64; n <= len(meta); n++ {
		if h, err := image.ParseHeader(meta[:n]); err == nil {
			return h, n, nil
		}
	}
	return nil, 0, errors.New("attack: no image header in the meta")
}

// ChangeMeta returns the meta with the header's source text and target
// size changed and its checksum recomputed (same image ID, so same session), followed by
// whatever came after the header (a signature block, now over other bytes).
// If the header cannot be parsed, one byte in its middle is flipped instead.
func ChangeMeta(meta []byte) []byte {
	h, n, err := SplitMeta(meta)
	if err == nil {
		h2 := *h
		h2.Source = "forged by mcattack: " + h.Source
		if len(h2.Source) > 512 {
			h2.Source = h2.Source[:512]
		}
		// A larger disk (what a receiver sizes its target by), if the
		// header still validates with it; else only the text.
		h3 := h2
		h3.TargetSize += 1 << 20
		h3.UnusedBytes += 1 << 20
		for _, x := range []*image.Header{&h3, &h2} {
			if b, err := x.MarshalBinary(); err == nil {
				return append(b, meta[n:]...)
			}
		}
	}
	out := append([]byte(nil), meta...)
	if len(out) > 0 {
		out[len(out)/2] ^= 0x40
	}
	return out
}
