package fec

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecoder feeds a decoder a mix of genuine blocks (chosen by the input)
// and arbitrary ones: it must never panic, never accept a wrong-length block,
// and rebuild the exact chunk from genuine blocks.
func FuzzDecoder(f *testing.F) {
	f.Add(uint16(1000), uint8(50), []byte{0, 1, 2, 3, 200, 201, 202})
	f.Add(uint16(1), uint8(1), []byte{9})
	f.Add(uint16(4000), uint8(33), []byte("\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0"))
	f.Fuzz(func(t *testing.T, chunkLen uint16, half uint8, ops []byte) {
		p := Params{BlockSize: 2 * int(half)}
		chunk := make([]byte, chunkLen)
		for i := range chunk {
			chunk[i] = byte(i*7 + i>>8)
		}
		enc, encErr := NewEncoder(p, chunk)
		dec, decErr := NewDecoder(p, int(chunkLen))
		if (encErr == nil) != (decErr == nil) {
			t.Fatalf("encoder %v, decoder %v", encErr, decErr)
		}
		if decErr != nil {
			return
		}
		genuine := true
		for n, op := range ops {
			i := int(op) - 8 // reach negative and past-the-end indexes too
			if n%5 == 4 {
				// An arbitrary block: the ops themselves, of arbitrary length.
				_, err := dec.Add(i, ops[:n])
				okLen := n == enc.BlockSize() ||
					i == enc.K()-1 && n == int(chunkLen)-(enc.K()-1)*enc.BlockSize()
				if err == nil && !okLen {
					t.Fatalf("accepted %d-byte block %d", n, i)
				}
				if err == nil {
					genuine = false // may hold arbitrary bytes now
				}
				continue
			}
			b, err := enc.Block(i)
			if (err != nil) != (i < 0 || i >= enc.K()+enc.M()) {
				t.Fatalf("Block(%d): %v", i, err)
			}
			if err != nil {
				continue
			}
			if _, err := dec.Add(i, b); err != nil {
				t.Fatalf("Add(%d) genuine: %v", i, err)
			}
		}
		got, err := dec.Bytes()
		if dec.Missing() > 0 {
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("incomplete Bytes: %v", err)
			}
			return
		}
		if err != nil || len(got) != int(chunkLen) {
			t.Fatalf("Bytes: %d bytes, %v", len(got), err)
		}
		if genuine && !bytes.Equal(got, chunk) {
			t.Fatal("genuine blocks rebuilt the wrong chunk")
		}
	})
}
