package fsmap

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"

	"github.com/discuscast/discus/image"
)

// MBR layout: four 16-byte entries at 446 and the 0x55AA signature at 510.
// Extended partitions (types 0x05, 0x0f, 0x85) hold a chain of EBRs, each a
// copy of this layout whose first entry is a logical partition (relative to
// the EBR) and second entry points at the next EBR (relative to the
// extended partition's start).
const (
	mbrSectorSize = 512
	mbrMaxLogical = 128 // a chain longer than this is taken for a loop
)

type mbrEntry struct {
	boot  byte
	typ   byte
	start uint32 // LBA
	count uint32 // sectors
}

func mbrParse(sector []byte) (entries [4]mbrEntry, ok bool) {
	if len(sector) < mbrSectorSize || sector[510] != 0x55 || sector[511] != 0xaa {
		return entries, false
	}
	for i := range entries {
		e := sector[446+16*i:]
		entries[i] = mbrEntry{
			boot:  e[0],
			typ:   e[4],
			start: binary.LittleEndian.Uint32(e[8:]),
			count: binary.LittleEndian.Uint32(e[12:]),
		}
	}
	return entries, true
}

func mbrIsExtended(typ byte) bool { return typ == 0x05 || typ == 0x0f || typ == 0x85 }

func mbrReadSector(r io.ReaderAt, off int64) ([]byte, error) {
	b := make([]byte, mbrSectorSize)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("fsmap: reading partition table at %d: %w", off, err)
	}
	return b, nil
}

// mbrPartitions reads an MBR partition table. ok is false when sector 0 is
// not a plausible MBR (no signature, bad boot flags, no partition inside
// the disk), so the caller can try a bare filesystem instead.
func mbrPartitions(r io.ReaderAt, size int64, logger *slog.Logger) ([]Partition, bool, error) {
	parts, _, ok, err := mbrScan(r, size, logger)
	return parts, ok, err
}

// mbrScan is mbrPartitions that also returns where the tables lie: sector 0
// and every EBR of the chain.
func mbrScan(r io.ReaderAt, size int64, logger *slog.Logger) ([]Partition, []image.Range, bool, error) {
	if size < mbrSectorSize {
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
	plausible := false
	for _, e := range entries {
		if e.boot != 0 && e.boot != 0x80 {
			return nil, nil, false, nil // boot code of a filesystem's boot sector, not a table
		}
		if e.typ != 0 && e.count != 0 && e.start != 0 && int64(e.start)*mbrSectorSize < size {
			plausible = true
		}
	}
	if !plausible {
		return nil, nil, false, nil
	}
	var parts []Partition
	tables := []image.Range{{Off: 0, Len: mbrSectorSize}}
	for i, e := range entries {
		if e.typ == 0 || e.count == 0 {
			continue
		}
		if mbrIsExtended(e.typ) {
			// The extended container itself is not a partition: its EBRs and
			// gaps stay kept because no partition covers them.
			logical, ebrs, err := mbrLogical(r, size, int64(e.start), int64(e.count), logger)
			if err != nil {
				return nil, nil, false, err
			}
			parts = append(parts, logical...)
			tables = append(tables, ebrs...)
			continue
		}
		parts = append(parts, Partition{
			Index:  i + 1,
			Scheme: "mbr",
			Start:  int64(e.start) * mbrSectorSize,
			Size:   int64(e.count) * mbrSectorSize,
			Type:   mbrTypeName(e.typ),
		})
	}
	return parts, tables, true, nil
}

// mbrLogical walks the EBR chain of the extended partition at LBA extStart.
// ebrs lists the sector of each EBR read.
func mbrLogical(r io.ReaderAt, size, extStart, extCount int64, logger *slog.Logger) (parts []Partition, ebrs []image.Range, err error) {
	seen := map[int64]bool{}
	ebr := extStart
	for n := 0; ; n++ {
		if n >= mbrMaxLogical || seen[ebr] {
			logger.Warn("fsmap: EBR chain loops or is too long; stopped", "lba", ebr)
			return parts, ebrs, nil
		}
		seen[ebr] = true
		if ebr < extStart || ebr >= extStart+extCount || (ebr+1)*mbrSectorSize > size {
			logger.Warn("fsmap: EBR outside its extended partition; chain stopped", "lba", ebr)
			return parts, ebrs, nil
		}
		sector, err := mbrReadSector(r, ebr*mbrSectorSize)
		if err != nil {
			return nil, nil, err
		}
		ebrs = append(ebrs, image.Range{Off: ebr * mbrSectorSize, Len: mbrSectorSize})
		entries, ok := mbrParse(sector)
		if !ok {
			logger.Warn("fsmap: EBR without signature; chain stopped", "lba", ebr)
			return parts, ebrs, nil
		}
		if e := entries[0]; e.typ != 0 && e.count != 0 && !mbrIsExtended(e.typ) {
			parts = append(parts, Partition{
				Index:  5 + len(parts),
				Scheme: "mbr",
				Start:  (ebr + int64(e.start)) * mbrSectorSize,
				Size:   int64(e.count) * mbrSectorSize,
				Type:   mbrTypeName(e.typ),
			})
		}
		next := entries[1]
		if !mbrIsExtended(next.typ) || next.start == 0 {
			return parts, ebrs, nil
		}
		ebr = extStart + int64(next.start)
	}
}

var mbrTypes = map[byte]string{
	0x01: "FAT12", 0x04: "FAT16 <32M", 0x06: "FAT16", 0x07: "HPFS/NTFS/exFAT",
	0x0b: "W95 FAT32", 0x0c: "W95 FAT32 (LBA)", 0x0e: "W95 FAT16 (LBA)",
	0x27: "Hidden NTFS WinRE", 0x82: "Linux swap", 0x83: "Linux", 0x8e: "Linux LVM",
	0xa5: "FreeBSD", 0xa6: "OpenBSD", 0xa9: "NetBSD", 0xaf: "HFS/HFS+",
	0xee: "GPT protective", 0xef: "EFI (FAT-12/16/32)", 0xfd: "Linux raid autodetect",
}

func mbrTypeName(t byte) string {
	if n, ok := mbrTypes[t]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", t)
}
