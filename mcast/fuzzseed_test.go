package mcast

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/discuscast/discus/mcast/wire"
)

var testHeader = wire.Header{Session: [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 1}, Node: 0x0102030405060708}

// samplePackets returns one valid packet of every type (the same as package wire's
// test samples, which seed FuzzParse).
func samplePackets() map[string][]byte {
	h := testHeader
	return map[string][]byte{
		"announce": wire.AppendAnnounce(nil, h, &wire.Announce{Final: true, Rate: 125e6, Chunks: 1000, MaxChunk: 1 << 20,
			BlockSize: 1400, MaxParity: 0, Members: 3, LossRef: 123, Waiting: true, Seq: 12345, Lead: 2, Meta: []byte("image header")}),
		"data": wire.AppendData(nil, h, &wire.Data{Seq: 7, Chunk: 3, ChunkLen: 5000, Block: 4, Queue: 10, RepairQueue: 2,
			Payload: bytes.Repeat([]byte{0xab}, 1400)}),
		"request": wire.AppendRequest(nil, h, &wire.Request{Progress: wire.Progress{Done: 5, Known: 1000, Loss: 100, Recent: 200, Seen: 777}, Outlier: true,
			Needs: []wire.Need{{Chunk: 1}, {Chunk: 2, Missing: 7, NextParity: 3}}}),
		"report":  wire.AppendReport(nil, h, &wire.Report{Progress: wire.Progress{Done: 1000, Known: 1000}, Hello: true, Done: true, Congestion: true}),
		"ack":     wire.AppendAck(nil, h, &wire.Ack{Nodes: []uint64{1, 2, 0xffffffffffffffff}}),
		"welcome": wire.AppendAck(nil, h, &wire.Ack{Welcome: true, Nodes: []uint64{9}}),
		"abort":   wire.AppendAbort(nil, h, &wire.Abort{Reason: wire.AbortCorrupt, Chunk: 3}),
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/{FuzzSender,FuzzReceiver}/sample-* from
// samplePackets when MCAST_WRITE_SEEDS=1 (run it after a wire format change).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MCAST_WRITE_SEEDS") != "1" {
		t.Skip("set MCAST_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	pk := samplePackets()
	names := make([]string, 0, len(pk))
	for n := range pk {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, fz := range []string{"FuzzSender", "FuzzReceiver"} {
		dir := filepath.Join("testdata", "fuzz", fz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", pk[n])
			if err := os.WriteFile(filepath.Join(dir, "sample-"+n), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
