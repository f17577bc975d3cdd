package fec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// TestMulXor checks fec's own block multiply-add, both the AVX2 and the
// portable loop, against the library's for random multipliers.
func TestMulXor(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		c := uint16(r.UintN(fieldOrder))
		if r.IntN(10) == 0 {
			c = uint16(r.IntN(3)) // 0, 1, 2
		}
		n := symbolGroup * (1 + r.IntN(40))
		in, out := randChunk(r, n), randChunk(r, n)
		want := slices.Clone(out)
		lowLevel.GF16MulSliceXor(c, in, want)
		got := slices.Clone(out)
		mulXorSlice(c, in, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("mulXor(%#x) differs from the library's (avx2 %v)", c, hasAVX2)
		}
		if c == 0 {
			continue
		}
		var tb mulTable
		tb.setLUT(c)
		got = slices.Clone(out)
		mulXorGo(&tb, in, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("mulXorGo(%#x) differs from the library's", c)
		}
		if hasAVX2 {
			got = slices.Clone(out)
			avx2MulXor(got, in, &tb)
			if !bytes.Equal(got, want) {
				t.Fatalf("mulXorAVX2(%#x) differs from the library's", c)
			}
		}
	}
	t.Logf("ASSERT own GF(2^16) multiply-add equals the library's (GFNI %v, AVX2 %v)", hasGFNI, hasAVX2)
}

// TestCauchyParity checks the encoder used where leopard cannot run
// against leopard's parity.
func TestCauchyParity(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, tc := range []struct{ bs, chunkLen int }{{1400, 300*1400 - 17}, {64, 300 * 64}, {62, 400*62 - 2}, {2, 600}} {
		p := Params{BlockSize: tc.bs}
		chunk := randChunk(r, tc.chunkLen)
		enc, err := NewEncoder(p, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if enc.c.small() {
			t.Fatalf("%v: want a GF(2^16) case", tc)
		}
		want, err := enc.encode()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		enc.c.cauchyParity(enc.data, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: Cauchy parity differs from leopard's", tc)
		}
		own := make([]byte, len(want))
		bs := enc.c.bs
		enc.c.ownParity(enc.data, func(j int) []byte { return own[j*bs : (j+1)*bs] }, false)
		if !bytes.Equal(own, want) {
			t.Fatalf("%v: own FFT parity differs from leopard's", tc)
		}
	}
	t.Logf("ASSERT Cauchy encoder equals leopard's")
}

// childEnv marks a test binary run by a test of this file as its child.
const childEnv = "DISCUS_FEC_CHILD"

// childRoundTrip is what the child processes run: encode a GF(2^16) chunk,
// lose blocks, rebuild from parity through the public API, and report the
// heap in use.
func childRoundTrip(t *testing.T, k, bs, lose int) {
	r := rand.New(rand.NewPCG(9, 9))
	p := Params{BlockSize: bs}
	chunk := randChunk(r, k*bs-3)
	// The parity comes from the Cauchy encoder, so that nothing but the decoder
	// could build the library's tables in this process.
	c, err := newCode(p, len(chunk))
	if err != nil {
		t.Fatal(err)
	}
	enc := &Encoder{c: c, chunk: chunk, last: make([]byte, bs)}
	copy(enc.last, chunk[(k-1)*bs:])
	parity := make([]byte, c.m*bs)
	c.cauchyParity(enc.data, parity)
	dec, _ := NewDecoder(p, len(chunk))
	lost := r.Perm(k)[:lose]
	for i := range k {
		if !slices.Contains(lost, i) {
			dec.Add(i, enc.data(i))
		}
	}
	for j := range lose {
		dec.Add(k+j, parity[j*bs:(j+1)*bs])
	}
	if !dec.Ready() {
		t.Fatal("decoder not ready")
	}
	got, err := dec.Bytes()
	if err != nil || !bytes.Equal(got, chunk) {
		t.Fatalf("rebuilt chunk differs (%v)", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("CHILD ok heapsys=%d leopard16OK=%v avx2=%v\n", ms.HeapSys, leopard16OK, hasAVX2)
}

func TestChild(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("run by TestDecoderBuildsNoTables and TestNoSSSE3")
	case "decode":
		childRoundTrip(t, 749, 1400, 40)
	case "qemu64":
		childRoundTrip(t, 300, 130, 20)
		// The public encoder and Warm must not reach the library's broken path.
		chunk := make([]byte, 300*130)
		enc, err := NewEncoder(Params{BlockSize: 130}, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := enc.Block(enc.K() + 1); err != nil {
			t.Fatal(err)
		}
		for !Warm() {
			runtime.Gosched()
		}
		fmt.Println("CHILD encoder ok")
	}
}

func runChild(t *testing.T, mode string, prefix ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append(prefix, exe, "-test.run=^TestChild$", "-test.v")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CHILD ok") {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

// TestDecoderBuildsNoTables: a process that only decodes (a receiver)
// rebuilds a 1 MiB GF(2^16) chunk with 40 losses without the library's 74 MiB
// of tables: its heap stays far below them.
func TestDecoderBuildsNoTables(t *testing.T) {
	out := runChild(t, "decode")
	var heap int64
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "heapsys="); ok {
			fmt.Sscan(v, &heap)
		}
	}
	if heap == 0 || heap > 32<<20 {
		t.Fatalf("decoder process heap %d bytes (the library's tables are 74 MiB)\n%s", heap, out)
	}
	t.Logf("ASSERT decode-only process heap %.1f MiB < 32 MiB", float64(heap)/(1<<20))
}

// TestNoSSSE3 runs the encoder, Warm and the decoder under qemu-x86_64 with
// qemu's default CPU model (no SSSE3, no AVX2), where klauspost/reedsolomon
// v1.14.2's GF(2^16) coder panics (see cauchyParity).
func TestNoSSSE3(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("amd64 only")
	}
	qemu, err := exec.LookPath("qemu-x86_64")
	if err != nil {
		t.Skip("qemu-x86_64 not installed (apt-get install qemu-user): cannot emulate a CPU without SSSE3")
	}
	if testing.Short() {
		t.Skip("short: emulated run takes seconds")
	}
	out := runChild(t, "qemu64", qemu, "-cpu", "qemu64")
	if !strings.Contains(out, "leopard16OK=false") || !strings.Contains(out, "CHILD encoder ok") {
		t.Fatalf("under qemu64 the CPU should lack SSSE3 and the encoder should run:\n%s", out)
	}
	t.Logf("ASSERT encode, Warm and decode run on a CPU without SSSE3 (qemu64)")
}

// TestFFTEncode checks fec's own FFT encoder against leopard's, shard for
// shard, on codes with full and partial groups, M below and at powers of two.
func TestFFTEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	for _, km := range [][2]int{{257, 1}, {256, 3}, {300, 8}, {749, 188}, {749, 128}, {1000, 250}, {5, 300}, {4000, 1000}, {11985, 2997}} {
		k, m := km[0], km[1]
		rs, err := reedsolomon.New(k, m, reedsolomon.WithLeopardGF16(true))
		if err != nil {
			t.Fatal(err)
		}
		size := symbolGroup * (1 + r.IntN(3))
		sh := make([][]byte, k+m)
		for i := range sh {
			sh[i] = make([]byte, size)
			if i < k {
				sh[i] = randChunk(r, size)
			}
		}
		if err := rs.Encode(sh); err != nil {
			t.Fatal(err)
		}
		got := make([][]byte, m)
		for j := range got {
			got[j] = make([]byte, size)
		}
		work := make([][]byte, 2*ceilPow2(m))
		for i := range work {
			work[i] = make([]byte, size)
		}
		fftEncode(sh[:k], got, work)
		for j := range got {
			if !bytes.Equal(got[j], sh[k+j]) {
				t.Fatalf("k=%d m=%d: parity %d differs from leopard's", k, m, j)
			}
		}
	}
	t.Logf("ASSERT own FFT encoder equals leopard's")
}
