package fec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/reedsolomon"
)

func randChunk(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// roundTrip encodes chunk, drops `lose` random data blocks, feeds the rest in
// random order followed by random parity blocks, and checks the result.
func roundTrip(t *testing.T, r *rand.Rand, p Params, chunk []byte, lose int) {
	t.Helper()
	enc, err := NewEncoder(p, chunk)
	if err != nil {
		t.Fatal(err)
	}
	k, m := enc.K(), enc.M()
	if k != p.Blocks(len(chunk)) || m != p.Parity(k) {
		t.Fatalf("K,M = %d,%d; Params says %d,%d", k, m, p.Blocks(len(chunk)), p.Parity(k))
	}
	lose = min(lose, k, m)
	dec, err := NewDecoder(p, len(chunk))
	if err != nil {
		t.Fatal(err)
	}
	order := r.Perm(k)[lose:]
	parity := r.Perm(m)[:lose]
	for n, i := range order {
		b, err := enc.Block(i)
		if err != nil {
			t.Fatal(err)
		}
		done, err := dec.Add(i, b)
		if err != nil {
			t.Fatal(err)
		}
		if done != (n+1 == k) {
			t.Fatalf("complete=%v after %d of %d blocks", done, n+1, k)
		}
	}
	if lose > 0 {
		if _, err := dec.Bytes(); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("Bytes before complete: %v", err)
		}
	}
	if dec.Missing() != lose {
		t.Fatalf("Missing = %d, want %d", dec.Missing(), lose)
	}
	for n, j := range parity {
		b, err := enc.Block(k + j)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != enc.BlockSize() {
			t.Fatalf("parity block has %d bytes", len(b))
		}
		done, err := dec.Add(k+j, b)
		if err != nil {
			t.Fatal(err)
		}
		if done != (n+1 == lose) {
			t.Fatalf("complete=%v after %d of %d parity", done, n+1, lose)
		}
	}
	if dec.Have() != k || dec.Missing() != 0 || dec.count() != k {
		t.Fatalf("Have %d Missing %d count %d, K %d", dec.Have(), dec.Missing(), dec.count(), k)
	}
	got, err := dec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, chunk) {
		t.Fatalf("rebuilt chunk differs (len %d, K %d, lost %d)", len(chunk), k, lose)
	}
	// A second call returns the same bytes without redoing work.
	if again, err := dec.Bytes(); err != nil || !bytes.Equal(again, chunk) {
		t.Fatalf("second Bytes: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		len  int
		bs   int
	}{
		{"1 byte", 1, 0},
		{"1 block", 1400, 1400},
		{"1 block + 1 byte", 1401, 1400},
		{"tiny blocks", 1000, 2},
		{"block < 64", 5000, 62},
		{"block = 64", 5000, 64},
		{"block 66", 5000, 66},
		{"K 255", 255 * 1400, 1400},
		{"K 256", 256 * 1400, 1400},
		{"K 257", 256*1400 + 700, 1400},
		{"1 MiB 1400", 1 << 20, 1400},
		{"1 MiB 8900", 1 << 20, 8900},
		{"1 MiB 1408", 1 << 20, 1408},
		{"odd len", 777777, 1400},
	}
	if !testing.Short() {
		cases = append(cases, struct {
			name string
			len  int
			bs   int
		}{"16 MiB 1400", 16 << 20, 1400})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Params{BlockSize: tc.bs}
			chunk := randChunk(r, tc.len)
			k := p.Blocks(tc.len)
			losses := []int{0, 1, max(1, k/20), p.Parity(k)}
			if tc.len > 4<<20 {
				losses = []int{k / 20} // keep the big case cheap under -race
			}
			for _, lose := range losses {
				roundTrip(t, r, p, chunk, lose)
			}
		})
	}
}

// TestOnlyParity rebuilds a chunk from parity blocks alone.
func TestOnlyParity(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := Params{BlockSize: 1000, MaxParity: 64}
	chunk := randChunk(r, 40*1000-17)
	enc, _ := NewEncoder(p, chunk)
	dec, _ := NewDecoder(p, len(chunk))
	for j := range enc.K() {
		b, _ := enc.Block(enc.K() + j + 5)
		if _, err := dec.Add(enc.K()+j+5, b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := dec.Bytes()
	if err != nil || !bytes.Equal(got, chunk) {
		t.Fatalf("parity-only rebuild failed: %v", err)
	}
}

// TestRandomLoss mixes random data and parity subsets, many times.
func TestRandomLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := range 40 {
		bs := 2 * (1 + r.IntN(800))
		n := 1 + r.IntN(300*bs)
		p := Params{BlockSize: bs}
		chunk := randChunk(r, n)
		enc, err := NewEncoder(p, chunk)
		if err != nil {
			t.Fatal(err)
		}
		k, m := enc.K(), enc.M()
		dec, _ := NewDecoder(p, n)
		for _, i := range r.Perm(k + m)[:k] {
			b, _ := enc.Block(i)
			if i == k-1 && r.IntN(2) == 0 {
				b = b[:n-(k-1)*bs] // a trimmed last block is accepted too
			}
			if _, err := dec.Add(i, b); err != nil {
				t.Fatal(err)
			}
		}
		got, err := dec.Bytes()
		if err != nil || !bytes.Equal(got, chunk) {
			t.Fatalf("iter %d (len %d bs %d K %d M %d): %v", iter, n, bs, k, m, err)
		}
	}
}

// TestParityZeroOutsideTail checks the property the tail packing relies on:
// unused symbols of packed tail shards stay zero in parity.
func TestParityZeroOutsideTail(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		k, m  int
		field reedsolomon.Option
	}{
		{300, 80, reedsolomon.WithLeopardGF16(true)},
		{100, 30, reedsolomon.WithLeopardGF(true)},
	} {
		rs, err := reedsolomon.New(tc.k, tc.m, tc.field)
		if err != nil {
			t.Fatal(err)
		}
		shards := make([][]byte, tc.k+tc.m)
		for i := range shards {
			shards[i] = make([]byte, symbolGroup)
			if i < tc.k {
				packTail(shards[i], randChunk(r, 24))
			}
		}
		if err := rs.Encode(shards); err != nil {
			t.Fatal(err)
		}
		for _, s := range shards[tc.k:] {
			if !isZero(s[12:32]) || !isZero(s[44:]) {
				t.Fatalf("k=%d: parity has bytes outside the packed symbols: %x", tc.k, s)
			}
		}
	}
}

// TestFieldChoice pins which field a chunk uses: changing it changes the
// code on the wire.
func TestFieldChoice(t *testing.T) {
	for _, tc := range []struct {
		len, bs int
		small   bool
	}{
		{1, 1400, true},
		{1 << 20, 8900, true},    // K 118, M 30
		{150 * 1400, 1400, true}, // K 150, M 38
		{200 * 1400, 1400, false},
		{1 << 20, 1400, false},
	} {
		c, err := newCode(Params{BlockSize: tc.bs}, tc.len)
		if err != nil {
			t.Fatal(err)
		}
		if c.small() != tc.small {
			t.Errorf("len %d bs %d (K %d M %d): GF(2^8) = %v", tc.len, tc.bs, c.k, c.m, c.small())
		}
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestParityStable checks the lazy-generation property. The cached parity is
// fixed by (K, M); leopard's parity j depends on M only through ceilPow2(M),
// so asking for fewer parity blocks of the same power of two gives the same
// prefix, while another power of two gives a different code — which is why M
// is fixed per chunk by Params.Parity.
func TestParityStable(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	k, size := 700, 1344
	data := make([][]byte, k)
	for i := range data {
		data[i] = randChunk(r, size)
	}
	parity := func(m int) [][]byte {
		rs, err := reedsolomon.New(k, m, reedsolomon.WithLeopardGF16(true))
		if err != nil {
			t.Fatal(err)
		}
		sh := append(append([][]byte(nil), data...), make([][]byte, m)...)
		for j := range m {
			sh[k+j] = make([]byte, size)
		}
		if err := rs.Encode(sh); err != nil {
			t.Fatal(err)
		}
		return sh[k:]
	}
	full := parity(256)
	for _, m := range []int{129, 200, 255} {
		for j, b := range parity(m) {
			if !bytes.Equal(b, full[j]) {
				t.Fatalf("m=%d parity %d differs from m=256", m, j)
			}
		}
	}
	if bytes.Equal(parity(128)[0], full[0]) {
		t.Fatal("m=128 gave the m=256 parity: the code does not depend on M as documented")
	}

	// Encoder: parity fetched in lazy batches, concurrently, equals one pass.
	p := Params{BlockSize: 1400}
	chunk := randChunk(r, 1<<20)
	a, _ := NewEncoder(p, chunk)
	b, _ := NewEncoder(p, chunk)
	all := make([][]byte, a.M())
	for j := range all {
		all[j], _ = a.Block(a.K() + j)
	}
	done := make(chan error)
	for w := range 4 {
		go func() {
			for j := w; j < b.M(); j += 4 {
				got, err := b.Block(b.K() + j)
				if err == nil && !bytes.Equal(got, all[j]) {
					err = fmt.Errorf("parity %d differs", j)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestParams(t *testing.T) {
	var p Params
	if p.Blocks(1<<20) != 749 || p.Parity(749) != 188 {
		t.Fatalf("defaults: K %d M %d", p.Blocks(1<<20), p.Parity(749))
	}
	if p.Parity(1) != MinParity {
		t.Fatalf("Parity(1) = %d", p.Parity(1))
	}
	for _, k := range []int{1, 255, 256, 1000, 12000, MaxBlocks} {
		if m := p.Parity(k); !fitsField(k, m, fieldOrder) {
			t.Fatalf("Parity(%d) = %d does not fit", k, m)
		}
		if _, err := reedsolomon.New(k, p.Parity(k), reedsolomon.WithLeopardGF16(true)); err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
	}
	if m := (Params{MaxParity: 60000}).Parity(30000); !fitsField(30000, m, fieldOrder) || m < 16384 {
		t.Fatalf("capped parity %d", m)
	}
	bad := []struct {
		p   Params
		len int
		err error
	}{
		{Params{BlockSize: 1401}, 10, ErrBlockSize},
		{Params{BlockSize: -2}, 10, ErrBlockSize},
		{Params{BlockSize: MaxBlockSize + 2}, 10, ErrBlockSize},
		{Params{MaxParity: -1}, 10, ErrBlockSize},
		{Params{}, 0, ErrChunkLen},
		{Params{}, -5, ErrChunkLen},
		{Params{BlockSize: 2}, 2*MaxBlocks + 1, ErrChunkLen},
	}
	for _, tc := range bad {
		if _, err := NewEncoder(tc.p, make([]byte, max(0, tc.len))); !errors.Is(err, tc.err) && tc.len >= 0 {
			t.Errorf("NewEncoder(%+v, %d): %v, want %v", tc.p, tc.len, err, tc.err)
		}
		if _, err := NewDecoder(tc.p, tc.len); !errors.Is(err, tc.err) {
			t.Errorf("NewDecoder(%+v, %d): %v, want %v", tc.p, tc.len, err, tc.err)
		}
	}
}

func TestBadInput(t *testing.T) {
	p := Params{BlockSize: 100}
	chunk := randChunk(rand.New(rand.NewPCG(1, 1)), 950)
	enc, _ := NewEncoder(p, chunk)
	for _, i := range []int{-1, enc.K() + enc.M(), 1 << 40} {
		if _, err := enc.Block(i); !errors.Is(err, ErrIndex) {
			t.Errorf("Block(%d): %v", i, err)
		}
	}
	dec, _ := NewDecoder(p, len(chunk))
	b0, _ := enc.Block(0)
	for _, tc := range []struct {
		i   int
		b   []byte
		err error
	}{
		{-1, b0, ErrIndex},
		{enc.K() + enc.M(), b0, ErrIndex},
		{0, b0[:99], ErrBlockLen},
		{0, append(b0, 0), ErrBlockLen},
		{0, nil, ErrBlockLen},
		{enc.K(), b0[:50], ErrBlockLen},
		{enc.K() - 1, b0[:49], ErrBlockLen},
	} {
		if _, err := dec.Add(tc.i, tc.b); !errors.Is(err, tc.err) {
			t.Errorf("Add(%d, %d bytes): %v, want %v", tc.i, len(tc.b), err, tc.err)
		}
	}
	if dec.Have() != 0 {
		t.Fatalf("bad blocks were kept: Have %d", dec.Have())
	}
	// Duplicates count once.
	dec.Add(0, b0)
	dec.Add(0, b0)
	if dec.Have() != 1 || dec.Missing() != enc.K()-1 {
		t.Fatalf("duplicate counted: Have %d", dec.Have())
	}
	if !dec.Has(0) || dec.Has(1) || dec.Has(-1) || dec.Has(enc.K()+enc.M()) {
		t.Fatal("Has disagrees with what was added")
	}
	// Reset forgets, and a wrong block then a right rebuild works.
	dec.Reset()
	if dec.Have() != 0 {
		t.Fatal("Reset kept blocks")
	}
	for i := 1; i <= enc.K(); i++ {
		b, _ := enc.Block(i)
		dec.Add(i, b)
	}
	if got, err := dec.Bytes(); err != nil || !bytes.Equal(got, chunk) {
		t.Fatalf("after Reset: %v", err)
	}
}

// TestRecycledBuffer decodes into pooled buffers full of garbage: every byte
// the decoder reads must have been written first.
func TestRecycledBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct{ len, bs int }{
		{100000 - 3, 1400}, {100000 - 3, 1408}, {5000, 62}, {1, 1400},
	} {
		p := Params{BlockSize: tc.bs}
		chunk := randChunk(r, tc.len)
		enc, _ := NewEncoder(p, chunk)
		k := enc.K()
		for iter := range 4 {
			garbage := bytes.Repeat([]byte{0xAB}, 2*k*enc.BlockSize()+64)
			putBuffer(garbage)
			dec, _ := NewDecoder(p, tc.len)
			lose := min(k, iter)
			for _, i := range r.Perm(k)[lose:] {
				b, _ := enc.Block(i)
				if i == k-1 && iter%2 == 0 {
					b = b[:tc.len-(k-1)*tc.bs]
				}
				dec.Add(i, b)
			}
			for j := range lose {
				b, _ := enc.Block(k + j)
				dec.Add(k+j, b)
			}
			got, err := dec.Bytes()
			if err != nil || !bytes.Equal(got, chunk) {
				t.Fatalf("len %d bs %d iter %d: %v", tc.len, tc.bs, iter, err)
			}
			dec.Release()
			if dec.Have() != 0 {
				t.Fatal("Release kept blocks")
			}
		}
	}
}
