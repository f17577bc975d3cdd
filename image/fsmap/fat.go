package fsmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/discuscast/discus/image"
)

// FAT12/16/32: the reserved area (boot sector, FSInfo, backup boot sector),
// every FAT copy and the FAT12/16 root directory are always kept; in the data
// area a cluster is kept when any FAT copy gives it a non-zero entry (in use,
// end of chain, or marked bad: all are kept, as only 0 means free).

func init() {
	register(fsReader{name: "vfat", probe: fatProbe, used: fatUsed})
}

// fatGeom is what the BIOS parameter block says about the layout, in bytes
// where that is what the caller needs.
type fatGeom struct {
	bits         int   // 12, 16 or 32: the FAT entry width
	sectorSize   int64 // bytes per sector
	clusterSize  int64 // bytes per cluster
	fatStart     int64 // byte offset of the first FAT
	fatBytes     int64 // bytes per FAT copy
	numFATs      int64
	dataStart    int64 // byte offset of cluster 2
	clusters     int64 // data clusters; valid numbers are 2..clusters+1
	rootCluster  int64 // FAT32 only
	totalSectors int64
}

var errFATBoot = errors.New("fsmap: not a FAT boot sector")

func fatProbe(r io.ReaderAt, size int64) bool {
	var b [512]byte
	if err := readExactlyAt(r, b[:], 0); err != nil {
		return false
	}
	_, err := fatParse(b[:])
	return err == nil
}

// fatParse reads the BPB and classifies the FAT type the way Microsoft's
// specification does: by the number of data clusters, never by the label.
func fatParse(b []byte) (*fatGeom, error) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA || (b[0] != 0xEB && b[0] != 0xE9) {
		return nil, errFATBoot
	}
	le := binary.LittleEndian
	bps := int64(le.Uint16(b[11:]))
	spc := int64(b[13])
	reserved := int64(le.Uint16(b[14:]))
	nfats := int64(b[16])
	rootEntries := int64(le.Uint16(b[17:]))
	total := int64(le.Uint16(b[19:]))
	media := b[21]
	fatSectors := int64(le.Uint16(b[22:]))
	if total == 0 {
		total = int64(le.Uint32(b[32:]))
	}
	fat32 := fatSectors == 0
	if fat32 {
		fatSectors = int64(le.Uint32(b[36:]))
	}
	switch {
	case bps < 512 || bps > 4096 || bps&(bps-1) != 0:
		return nil, errFATBoot
	case spc == 0 || spc&(spc-1) != 0:
		return nil, errFATBoot
	case reserved == 0 || nfats == 0 || fatSectors == 0 || total == 0:
		return nil, errFATBoot
	case media != 0xF0 && media < 0xF8:
		return nil, errFATBoot
	}
	rootSectors := (rootEntries*32 + bps - 1) / bps
	meta := reserved + nfats*fatSectors + rootSectors
	if meta >= total {
		return nil, errFATBoot
	}
	g := &fatGeom{
		sectorSize:   bps,
		clusterSize:  bps * spc,
		fatStart:     reserved * bps,
		fatBytes:     fatSectors * bps,
		numFATs:      nfats,
		dataStart:    meta * bps,
		clusters:     (total - meta) / spc,
		totalSectors: total,
	}
	switch {
	case g.clusters < 4085:
		g.bits = 12
	case g.clusters < 65525:
		g.bits = 16
	default:
		g.bits = 32
	}
	if (g.bits == 32) != fat32 || (g.bits == 32 && rootEntries != 0) || (g.bits != 32 && rootEntries == 0) {
		return nil, errFATBoot
	}
	if g.bits == 32 {
		g.rootCluster = int64(le.Uint32(b[44:]))
	}
	// Entries past what one FAT copy can hold cannot be allocated; a
	// formatter never makes that, so it means a damaged BPB.
	if (g.clusters+2)*int64(g.bits) > g.fatBytes*8 {
		return nil, fmt.Errorf("fsmap: FAT%d of %d bytes cannot map %d clusters", g.bits, g.fatBytes, g.clusters)
	}
	return g, nil
}

func fatUsed(r io.ReaderAt, size int64) ([]image.Range, error) {
	var b [512]byte
	if err := readExactlyAt(r, b[:], 0); err != nil {
		return nil, fmt.Errorf("fsmap: FAT boot sector: %w", err)
	}
	g, err := fatParse(b[:])
	if err != nil {
		return nil, err
	}
	if g.totalSectors*g.sectorSize > size {
		return nil, fmt.Errorf("fsmap: FAT volume of %d bytes is larger than its %d-byte partition",
			g.totalSectors*g.sectorSize, size)
	}
	used := []image.Range{{Off: 0, Len: g.dataStart}}
	for i := range g.numFATs {
		used, err = fatScanCopy(r, g, g.fatStart+i*g.fatBytes, used)
		if err != nil {
			return nil, err
		}
	}
	if g.bits == 32 && g.rootCluster >= 2 && g.rootCluster < g.clusters+2 {
		used = append(used, image.Range{Off: g.dataStart + (g.rootCluster-2)*g.clusterSize, Len: g.clusterSize})
	}
	return normalize(used), nil
}

// fatChunkEntries bounds how much of a FAT is in memory at once, whatever
// the volume size.
const fatChunkEntries = 1 << 16

// fatScanCopy appends the clusters one FAT copy marks non-zero, reading it a
// chunk at a time and coalescing neighbouring clusters into one range.
func fatScanCopy(r io.ReaderAt, g *fatGeom, fatOff int64, used []image.Range) ([]image.Range, error) {
	last := g.clusters + 2 // one past the last valid entry
	var buf []byte
	for first := int64(0); first < last; first += fatChunkEntries {
		n := min(int64(fatChunkEntries), last-first)
		var byteOff, byteLen int64
		switch g.bits {
		case 12:
			// Two entries share three bytes; chunks start on even entries.
			byteOff, byteLen = first*3/2, (n*3+1)/2
		case 16:
			byteOff, byteLen = first*2, n*2
		default:
			byteOff, byteLen = first*4, n*4
		}
		if cap(buf) < int(byteLen) {
			buf = make([]byte, byteLen)
		}
		buf = buf[:byteLen]
		if err := readExactlyAt(r, buf, fatOff+byteOff); err != nil {
			return nil, fmt.Errorf("fsmap: reading FAT at %d: %w", fatOff+byteOff, err)
		}
		for i := range n {
			c := first + i
			if c < 2 || fatEntry(buf, g.bits, i) == 0 {
				continue
			}
			off := g.dataStart + (c-2)*g.clusterSize
			if k := len(used) - 1; k >= 0 && used[k].End() == off {
				used[k].Len += g.clusterSize
			} else {
				used = append(used, image.Range{Off: off, Len: g.clusterSize})
			}
		}
	}
	return used, nil
}

// fatEntry decodes entry i of a chunk that starts at an even entry number.
func fatEntry(b []byte, bits int, i int64) uint32 {
	switch bits {
	case 12:
		o := i * 3 / 2
		v := uint32(b[o]) | uint32(b[o+1])<<8
		if i&1 == 1 {
			return v >> 4
		}
		return v & 0x0FFF
	case 16:
		return uint32(binary.LittleEndian.Uint16(b[i*2:]))
	default:
		return binary.LittleEndian.Uint32(b[i*4:]) & 0x0FFFFFFF
	}
}

// readExactlyAt fills p from off. An io.ReaderAt may return io.EOF with a
// full read at the very end of its input, which is no error here; a short
// read always is.
func readExactlyAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
