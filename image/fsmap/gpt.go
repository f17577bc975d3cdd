package fsmap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"unicode/utf16"

	"github.com/discuscast/discus/image"
)

// GPT: a protective MBR (an entry of type 0xEE) in sector 0, the primary
// header in LBA 1 and its entry array, and a backup header in the disk's
// last LBA. The sector size is not recorded anywhere, so 512 and 4096 are
// both tried.
const (
	gptMaxArrayBytes = 1 << 20 // far above the usual 16 KiB; caps allocation
	gptMaxEntrySize  = 4096
)

var gptSectorSizes = []int64{512, 4096}

// gptPartitions reads a GPT. ok is false when sector 0 has no protective
// MBR entry. A protective MBR whose GPT headers are both broken gives one
// unknown, whole-disk partition: guessing from a damaged table could drop
// data.
func gptPartitions(r io.ReaderAt, size int64, logger *slog.Logger) ([]Partition, bool, error) {
	parts, _, ok, err := gptScan(r, size, logger)
	return parts, ok, err
}

// gptScan is gptPartitions that also returns the table's own ranges: both
// headers and both entry arrays, which an image keeps even when it skips
// the free space outside partitions.
func gptScan(r io.ReaderAt, size int64, logger *slog.Logger) ([]Partition, []image.Range, bool, error) {
	if size < 2*mbrSectorSize {
		return nil, nil, false, nil
	}
	sector, err := mbrReadSector(r, 0)
	if err != nil {
		return nil, nil, false, err
	}
	entries, ok := mbrParse(sector)
	if !ok {
		return nil, nil, false, nil
	}
	protective := false
	for _, e := range entries {
		protective = protective || e.typ == 0xee
	}
	if !protective {
		return nil, nil, false, nil
	}
	for _, backup := range []bool{false, true} {
		for _, ss := range gptSectorSizes {
			lastLBA := size/ss - 1
			lba := int64(1)
			if backup {
				lba = lastLBA
			}
			if lba < 1 {
				continue
			}
			parts, tables, err := gptRead(r, size, ss, lba)
			if err != nil {
				continue // try the next sector size, then the backup
			}
			if backup {
				logger.Warn("fsmap: primary GPT header is damaged; using the backup", "sector_size", ss)
			}
			return parts, tables, true, nil
		}
	}
	logger.Warn("fsmap: protective MBR but no valid GPT header; keeping the whole disk")
	return []Partition{{Index: 1, Scheme: "gpt", Start: 0, Size: size, Type: "damaged GPT",
		Warning: "no valid GPT header; kept whole"}}, nil, true, nil
}

// gptTableRanges lists where the GPT's structures lie, from the header
// found at lba: that header and its array, the alternate header and the
// array beside it, and the standard backup place (last LBA and the array
// before it) in case the alternate pointer is stale. Everything is clipped
// to the disk; the caller merges the overlaps.
func gptTableRanges(size, ss, lba, alt, arrayLBA, arrayBytes int64) []image.Range {
	arraySectors := (arrayBytes + ss - 1) / ss
	rs := []image.Range{
		{Off: lba * ss, Len: ss},
		{Off: arrayLBA * ss, Len: arraySectors * ss},
	}
	for _, h := range []int64{alt, size/ss - 1} {
		if h <= 0 || h >= size/ss {
			continue
		}
		if h > lba {
			// A backup: its array is just before it.
			rs = append(rs, image.Range{Off: max(h-arraySectors, 1) * ss, Len: (min(arraySectors, h-1) + 1) * ss})
		} else {
			// The primary seen from the backup: its array follows it.
			rs = append(rs, image.Range{Off: h * ss, Len: (arraySectors + 1) * ss})
		}
	}
	return clip(normalize(rs), image.Range{Off: 0, Len: size})
}

// errGPT marks a header or entry array that fails its checks.
type errGPT string

func (e errGPT) Error() string { return "fsmap: gpt: " + string(e) }

// gptRead reads and checks the header at lba with sector size ss, then its
// entry array.
func gptRead(r io.ReaderAt, size, ss, lba int64) ([]Partition, []image.Range, error) {
	hdr := make([]byte, ss)
	if _, err := r.ReadAt(hdr, lba*ss); err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
		return nil, nil, errGPT("no signature")
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:])
	if hsize < 92 || int64(hsize) > ss {
		return nil, nil, errGPT("bad header size")
	}
	want := binary.LittleEndian.Uint32(hdr[16:])
	h := append([]byte(nil), hdr[:hsize]...)
	clear(h[16:20])
	if crc32.ChecksumIEEE(h) != want {
		return nil, nil, errGPT("header CRC mismatch")
	}
	if my := binary.LittleEndian.Uint64(hdr[24:]); my != uint64(lba) {
		return nil, nil, errGPT("header's own LBA is wrong")
	}
	arrayLBA := binary.LittleEndian.Uint64(hdr[72:])
	count := binary.LittleEndian.Uint32(hdr[80:])
	esize := binary.LittleEndian.Uint32(hdr[84:])
	arrayCRC := binary.LittleEndian.Uint32(hdr[88:])
	if esize < 128 || esize > gptMaxEntrySize || esize%8 != 0 {
		return nil, nil, errGPT("bad entry size")
	}
	total := uint64(count) * uint64(esize)
	if total > gptMaxArrayBytes {
		return nil, nil, errGPT("entry array too large")
	}
	if arrayLBA == 0 || arrayLBA > uint64(size/ss) || int64(arrayLBA)*ss+int64(total) > size {
		return nil, nil, errGPT("entry array outside the disk")
	}
	array := make([]byte, total)
	if _, err := r.ReadAt(array, int64(arrayLBA)*ss); err != nil {
		return nil, nil, err
	}
	if crc32.ChecksumIEEE(array) != arrayCRC {
		return nil, nil, errGPT("entry array CRC mismatch")
	}
	var parts []Partition
	for i := range int(count) {
		e := array[i*int(esize):][:esize]
		typ := e[:16]
		if bytes.Equal(typ, make([]byte, 16)) {
			continue
		}
		first := binary.LittleEndian.Uint64(e[32:])
		last := binary.LittleEndian.Uint64(e[40:])
		p := Partition{Index: i + 1, Scheme: "gpt", Type: gptTypeName(typ)}
		maxLBA := uint64(size / ss)
		if first > last || first >= maxLBA {
			p.Start, p.Size = size, 0 // outside: Scan warns and keeps it out of the map
		} else {
			p.Start = int64(first) * ss
			p.Size = (int64(min(last, maxLBA)) - int64(first) + 1) * ss
			if last >= maxLBA {
				p.Size = size - p.Start + 1 // runs past the end: Scan clips and warns
			}
		}
		if name := gptName(e[56:]); name != "" {
			p.Type += " (" + name + ")"
		}
		parts = append(parts, p)
	}
	alt := int64(binary.LittleEndian.Uint64(hdr[32:]))
	return parts, gptTableRanges(size, ss, lba, alt, int64(arrayLBA), int64(total)), nil
}

// gptGUID formats a GUID stored in GPT's mixed-endian layout.
func gptGUID(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

var gptTypes = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
	"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux home",
	"BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
	"E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
	"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery",
	"48465300-0000-11AA-AA11-00306543ECAC": "Apple HFS+",
}

func gptTypeName(b []byte) string {
	g := gptGUID(b)
	if n, ok := gptTypes[g]; ok {
		return n
	}
	return g
}

// gptName decodes the entry's UTF-16LE name (72 bytes, NUL-terminated).
func gptName(b []byte) string {
	b = b[:min(len(b), 72)]
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
