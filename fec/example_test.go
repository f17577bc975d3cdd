package fec_test

import (
	"bytes"
	"fmt"

	"github.com/discuscast/discus/fec"
)

// A sender cuts a chunk into blocks; a receiver loses three data blocks and
// rebuilds the chunk from the rest plus three parity blocks.
func Example() {
	p := fec.Params{BlockSize: 1400}
	chunk := bytes.Repeat([]byte("discus "), 10000) // 70000 bytes

	enc, err := fec.NewEncoder(p, chunk)
	if err != nil {
		panic(err)
	}
	dec, err := fec.NewDecoder(p, len(chunk)) // the length travels in every packet
	if err != nil {
		panic(err)
	}
	lost := map[int]bool{3: true, 17: true, 42: true}
	for i := 0; i < enc.K(); i++ {
		if !lost[i] {
			b, _ := enc.Block(i)
			dec.Add(i, b)
		}
	}
	fmt.Println("K", enc.K(), "M", enc.M(), "missing", dec.Missing())

	// The sender answers "missing 3" with fresh parity 0, 1, 2.
	for j := 0; !dec.Complete(); j++ {
		b, _ := enc.Block(enc.K() + j)
		dec.Add(enc.K()+j, b)
	}
	got, err := dec.Bytes()
	fmt.Println(bytes.Equal(got, chunk), err)
	dec.Release() // done with got: recycle the buffer
	// Output:
	// K 50 M 13 missing 3
	// true <nil>
}
