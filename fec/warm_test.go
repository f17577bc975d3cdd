package fec

import (
	"testing"
	"time"
)

// TestWarmReady: a GF(2^16) decoder with a block to rebuild is ready once Warm has
// built the tables; loss-free and GF(2^8) decoders always are.
func TestWarmReady(t *testing.T) {
	p := Params{BlockSize: 64}
	big := make([]byte, 300*64)
	enc, err := NewEncoder(p, big)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := NewDecoder(p, len(big))
	for i := 1; i < enc.K(); i++ {
		b, _ := enc.Block(i)
		dec.Add(i, b)
	}
	par, err := enc.Block(enc.K())
	if err != nil {
		t.Fatal(err)
	}
	dec.Add(enc.K(), par) // complete, needs a rebuild of block 0 over GF(2^16)
	deadline := time.Now().Add(time.Minute)
	for !Warm() {
		if time.Now().After(deadline) {
			t.Fatal("tables never built")
		}
		time.Sleep(time.Millisecond)
	}
	if !dec.Ready() {
		t.Fatal("decoder not ready after Warm")
	}
	if _, err := dec.Bytes(); err != nil {
		t.Fatal(err)
	}
	small, _ := NewDecoder(p, 10*64)
	if !small.Ready() {
		t.Fatal("an incomplete GF(2^8) decoder must be ready")
	}
	t.Logf("ASSERT GF(2^16) decoder ready after Warm; rebuilt %d blocks", enc.K())
}
