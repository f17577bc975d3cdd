package fsmap_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/discuscast/discus/image/fsmap"
)

// A disk with an MBR holding a swap partition and a partition of unknown
// type: the swap area keeps only its header page, the unknown partition
// is kept whole, and outside partitions only what precedes the first one
// (boot code, the table): the gap between them (3..4 MiB) and the space
// after the last one (5..8 MiB) are unallocated, hence free (m.Gaps).
func ExampleScan() {
	disk := make([]byte, 8<<20)
	entry := func(i int, typ byte, startLBA, sectors uint32) {
		e := disk[446+16*i:]
		e[4] = typ
		binary.LittleEndian.PutUint32(e[8:], startLBA)
		binary.LittleEndian.PutUint32(e[12:], sectors)
	}
	entry(0, 0x82, 2048, 4096) // Linux swap: 1 MiB..3 MiB
	entry(1, 0x83, 8192, 2048) // Linux, but no filesystem we know: 4 MiB..5 MiB
	disk[510], disk[511] = 0x55, 0xaa
	copy(disk[1<<20+4096-10:], "SWAPSPACE2")

	m, err := fsmap.Scan(bytes.NewReader(disk), int64(len(disk)), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range m.Partitions {
		fmt.Printf("%d %s %q fs=%q: keep %d of %d bytes\n", p.Index, p.Scheme, p.Type, p.FS, p.Used, p.Size)
	}
	for _, r := range m.Used {
		fmt.Printf("keep [%d, %d)\n", r.Off, r.End())
	}
	fmt.Printf("%d of %d bytes kept, %d of gaps skipped\n", m.UsedBytes(), m.Size, m.GapBytes())
	// Output:
	// 1 mbr "Linux swap" fs="swap": keep 4096 of 2097152 bytes
	// 2 mbr "Linux" fs="": keep 1048576 of 1048576 bytes
	// keep [0, 1052672)
	// keep [4194304, 5242880)
	// 2101248 of 8388608 bytes kept, 4194304 of gaps skipped
}

// Scanning a disk image file (or a block device: os.Open("/dev/sda") and
// its size from Seek(0, io.SeekEnd)), logging any partition kept whole.
func ExampleScan_file() {
	f, err := os.Open("disk.img")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	m, err := fsmap.Scan(f, st.Size(), slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range m.Partitions {
		fmt.Printf("%-3d %-4s %-22s %-5s size %d, used %d, skipped %d %s\n",
			p.Index, p.Scheme, p.Type, p.FS, p.Size, p.Used, p.Size-p.Used, p.Warning)
	}
}
