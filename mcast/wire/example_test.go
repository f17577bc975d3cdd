package wire_test

import (
	"fmt"
	"time"

	"github.com/discuscast/discus/mcast/wire"
)

// Encode a receiver's hello, seal it for the network and read it back.
func Example() {
	h := wire.Header{Session: [16]byte{1}, Node: 42}
	p := wire.AppendReport(nil, h, &wire.Report{Hello: true, Progress: wire.Progress{Loss: wire.LossUnknown, Recent: wire.LossUnknown}})

	var drops wire.Drops
	f, _ := wire.NewFramer(nil, 42, false, func() uint64 { return 0 }, func(r wire.DropReason) { drops[r]++ })
	onWire := f.Seal(p, time.Time{})

	plain, ok := f.Open(onWire, time.Time{})
	h2, body, _ := wire.ParseHeader(plain)
	r, _ := wire.ParseReport(h2, body)
	fmt.Println(len(onWire), ok, h2.Type, h2.Node, r.Hello)

	onWire[40] ^= 1 // corrupted on the way
	_, ok = f.Open(onWire, time.Time{})
	fmt.Println(ok, drops.String())
	// Output:
	// 60 true report 42 true
	// false checksum=1
}
