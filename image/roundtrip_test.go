package image

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

func roundTrip(t *testing.T, data []byte, ccfg CreateConfig, icfg InstallConfig, shuffle bool) *Header {
	t.Helper()
	img, h, st := createImage(t, NewSource(bytes.NewReader(data), int64(len(data))), ccfg)
	if h.TargetSize != int64(len(data)) {
		t.Fatalf("TargetSize %d, want %d", h.TargetSize, len(data))
	}
	if h.DataBytes+h.ZeroBytes+h.UnusedBytes != h.TargetSize {
		t.Fatalf("stats don't add up: %+v", h)
	}
	if st.Chunks != int(h.ChunkCount) {
		t.Fatalf("stats chunks %d, header %d", st.Chunks, h.ChunkCount)
	}
	var order func([]int)
	if shuffle {
		r := rand.New(rand.NewPCG(7, 7))
		order = func(v []int) { r.Shuffle(len(v), func(i, j int) { v[i], v[j] = v[j], v[i] }) }
	}
	got := installImage(t, img, icfg, order)
	mustEqual(t, got, data)
	// Every chunk must fit the chunk size.
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.NumChunks() {
		if _, n := r.ChunkOffset(i); n > int(h.ChunkSize) {
			t.Fatalf("chunk %d is %d bytes, chunk size %d", i, n, h.ChunkSize)
		}
		if _, _, err := r.VerifyChunk(i, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d bytes -> %d chunks, %d stored (ratio %.2f), zero %d", len(data), h.ChunkCount, h.StoredBytes, h.Ratio(), h.ZeroBytes)
	return h
}

func TestRoundTripCompressible(t *testing.T) {
	data := compressible(1, 5<<20+123)
	roundTrip(t, data, CreateConfig{ChunkSize: MinChunkSize}, InstallConfig{}, true)
}

func TestRoundTripRandom(t *testing.T) {
	data := randomBytes(2, 3<<20+777)
	h := roundTrip(t, data, CreateConfig{ChunkSize: MinChunkSize}, InstallConfig{}, true)
	if h.StoredBytes < int64(len(data)) {
		t.Fatalf("random data shrank?")
	}
}

func TestRoundTripZeros(t *testing.T) {
	data := make([]byte, 9<<20+5)
	h := roundTrip(t, data, CreateConfig{}, InstallConfig{}, false)
	if h.ChunkCount != 1 || h.DataBytes != 0 {
		t.Fatalf("all-zero image: %d chunks, %d data bytes", h.ChunkCount, h.DataBytes)
	}
}

func TestRoundTripEmpty(t *testing.T) {
	roundTrip(t, nil, CreateConfig{}, InstallConfig{}, false)
}

func TestRoundTripMixed(t *testing.T) {
	// Compressible, random and zero stretches at odd sizes and offsets.
	var data []byte
	r := rand.New(rand.NewPCG(3, 3))
	for len(data) < 6<<20 {
		n := 1 + r.IntN(300<<10)
		switch r.IntN(3) {
		case 0:
			data = append(data, compressible(r.Uint64(), n)...)
		case 1:
			data = append(data, randomBytes(r.Uint64(), n)...)
		default:
			data = append(data, make([]byte, n)...)
		}
	}
	for _, gaps := range []GapMode{GapLeave, GapZero, GapDiscard} {
		t.Run(gaps.String(), func(t *testing.T) {
			roundTrip(t, data, CreateConfig{ChunkSize: MinChunkSize, Level: 3}, InstallConfig{Gaps: gaps, Workers: 3, Window: 2}, true)
		})
	}
}

// A chunk size that is not a power of two, and the largest one.
func TestOddChunkSize(t *testing.T) {
	data := append(compressible(12, 2<<20), randomBytes(12, 500<<10+1)...)
	roundTrip(t, data, CreateConfig{ChunkSize: 100000, Level: 5}, InstallConfig{}, true)
	roundTrip(t, data, CreateConfig{ChunkSize: MaxChunkSize}, InstallConfig{}, false)
}

// Cancelling the context stops creation with the context's error, and an
// emit error is returned as is.
func TestCreateCancelAndEmitError(t *testing.T) {
	data := randomBytes(13, 4<<20)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, _, err := CreateChunks(ctx, NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize},
		func(int, []byte) error {
			if n++; n == 3 {
				cancel()
			}
			return nil
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled creation: %v", err)
	}
	boom := errors.New("disk full")
	_, _, err = CreateChunks(context.Background(), NewSource(bytes.NewReader(data), int64(len(data))), CreateConfig{ChunkSize: MinChunkSize},
		func(int, []byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("emit error: %v", err)
	}
}
