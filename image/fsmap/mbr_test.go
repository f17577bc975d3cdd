package fsmap

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
)

// TestMBRExtendedDisk: a FAT16 primary and an extended partition holding
// ext2 and swap logical partitions, written by sfdisk; where the logical
// partitions landed is read back from sfdisk's own JSON, not from our parser.
func TestMBRExtendedDisk(t *testing.T) {
	const size = 100 << 20
	disk := newRandomFile(t, size)
	script := "label: dos\nstart=2048, size=65536, type=6\nstart=67584, type=5\nsize=32M, type=83\nsize=8M, type=82\n"
	needTool(t, "sfdisk")
	cmd := "printf '" + script + "' | sfdisk -q " + disk
	run(t, "sh", "-c", cmd)
	table := sfdiskTable(t, disk)
	kinds := map[string]string{"6": "vfat16", "83": "ext2", "82": "swap"}
	fsNames := map[string]string{"6": "vfat", "83": "ext2", "82": "swap"}
	type want struct {
		start, size int64
		fs          string
		tree        string
	}
	var wants []want
	for i, p := range table {
		kind, ok := kinds[p.Type]
		if !ok {
			continue // the extended container
		}
		img, src := makeFS(t, kind, p.Size*512, uint64(10+i))
		copyInto(t, disk, p.Start*512, img)
		wants = append(wants, want{p.Start * 512, p.Size * 512, fsNames[p.Type], src})
	}
	m := scanFile(t, disk)
	if len(m.Partitions) != 3 {
		t.Fatalf("partitions: %+v", m.Partitions)
	}
	for i, w := range wants {
		p := m.Partitions[i]
		if p.Scheme != "mbr" || p.Start != w.start || p.Size != w.size || p.FS != w.fs || p.Warning != "" {
			t.Fatalf("partition %d: %+v, want %+v", i, p, w)
		}
		t.Logf("partition %d %s: %d of %d bytes used", p.Index, p.FS, p.Used, p.Size)
	}
	if m.Partitions[1].Index != 5 || m.Partitions[2].Index != 6 {
		t.Fatalf("logical partitions numbered %d, %d", m.Partitions[1].Index, m.Partitions[2].Index)
	}
	// Every EBR lies outside every partition and is kept; the gaps are not.
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	_, tables, _, err := mbrScan(f, size, slog.New(slog.DiscardHandler))
	f.Close()
	if err != nil || len(tables) != 3 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	for _, r := range tables {
		if !mapCovers(m, r.Off, r.Len) {
			t.Fatalf("table sector at %d not kept", r.Off)
		}
	}
	if m.GapBytes() == 0 {
		t.Errorf("no gap skipped: %+v", m.Gaps)
	}
	if m.UsedBytes() > size/3 {
		t.Errorf("used %d of %d", m.UsedBytes(), size)
	}
	scrub := scrubbed(t, disk, m.Used)
	for i, p := range m.Partitions {
		verifyPart(t, scrub, p, wants[i].tree)
	}
	if got := sfdiskTable(t, scrub); fmt.Sprint(got) != fmt.Sprint(table) {
		t.Fatalf("partition table changed: %v, was %v", got, table)
	}
}

type sfdiskPart struct {
	Start, Size int64
	Type        string
}

// sfdiskTable is the partition list as sfdisk reads it.
func sfdiskTable(t *testing.T, disk string) []sfdiskPart {
	var table struct {
		PartitionTable struct{ Partitions []sfdiskPart }
	}
	if err := json.Unmarshal([]byte(run(t, "sfdisk", "-J", disk)), &table); err != nil {
		t.Fatal(err)
	}
	return table.PartitionTable.Partitions
}

func mapCovers(m *Map, off, n int64) bool {
	for _, r := range m.Used {
		if r.Off <= off && off+n <= r.End() {
			return true
		}
	}
	return false
}

// mbrSector builds a table sector from (type, start, count) entries.
func mbrSector(entries ...[3]uint32) []byte {
	b := make([]byte, 512)
	for i, e := range entries {
		x := b[446+16*i:]
		x[4] = byte(e[0])
		binary.LittleEndian.PutUint32(x[8:], e[1])
		binary.LittleEndian.PutUint32(x[12:], e[2])
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

func TestMBRLoopingChain(t *testing.T) {
	disk := make([]byte, 4<<20)
	copy(disk, mbrSector([3]uint32{0x83, 2048, 2048}, [3]uint32{0x05, 4096, 4096}))
	// The first EBR's next link points back at itself.
	copy(disk[4096*512:], mbrSector([3]uint32{0x83, 64, 1000}, [3]uint32{0x05, 0, 100}))
	copy(disk[(4096+2048)*512:], mbrSector([3]uint32{0x83, 64, 1000}, [3]uint32{0x05, 0, 100}))
	disk[(4096)*512+446+16+8] = 0 // next = extStart+0: itself
	m, err := Scan(readerAt(disk), int64(len(disk)), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m)
	if len(m.Partitions) != 2 || m.Partitions[1].Index != 5 {
		t.Fatalf("partitions: %+v", m.Partitions)
	}
	// A chain of links that cycles between two EBRs.
	copy(disk[4096*512:], mbrSector([3]uint32{0x83, 64, 100}, [3]uint32{0x05, 2048, 100}))
	copy(disk[(4096+2048)*512:], mbrSector([3]uint32{0x83, 64, 100}, [3]uint32{0x05, 0, 100}))
	m, err = Scan(readerAt(disk), int64(len(disk)), nil)
	if err != nil || len(m.Partitions) != 3 {
		t.Fatalf("cycle: %v %+v", err, m.Partitions)
	}
}

func TestMBRNotATable(t *testing.T) {
	disk := make([]byte, 1<<20)
	copy(disk, mbrSector([3]uint32{0x83, 2048, 100}))
	disk[446] = 0x12 // boot flag neither 0 nor 0x80: boot code, not a table
	m, err := Scan(readerAt(disk), int64(len(disk)), nil)
	if err != nil || m.Partitions[0].Scheme != "none" || m.UsedBytes() != m.Size {
		t.Fatalf("%v %+v", err, m.Partitions)
	}
}

func TestMBRPartitionPastEnd(t *testing.T) {
	disk := make([]byte, 1<<20)
	copy(disk, mbrSector([3]uint32{0x83, 1024, 1 << 30}, [3]uint32{0x83, 1 << 30, 10}))
	m, err := Scan(readerAt(disk), int64(len(disk)), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, m)
	if m.UsedBytes() != m.Size || m.Partitions[0].Warning == "" || m.Partitions[1].Warning == "" {
		t.Fatalf("%+v", m.Partitions)
	}
}
