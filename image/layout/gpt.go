package layout

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A GPT header's fields (UEFI spec 5.3.2), at these byte offsets.
const (
	gptSig         = 0  // "EFI PART"
	gptHdrSize     = 12 // uint32
	gptHdrCRC      = 16 // uint32, of the first HdrSize bytes with this field zero
	gptMyLBA       = 24
	gptAltLBA      = 32
	gptFirstUsable = 40
	gptLastUsable  = 48
	gptArrayLBA    = 72
	gptCount       = 80 // uint32
	gptEntrySize   = 84 // uint32
	gptArrayCRC    = 88 // uint32

	gptMaxArrayBytes = 1 << 20 // as fsmap: far above the usual 16 KiB
)

var errNoGPT = errors.New("no valid GPT header")

// gpt is a parsed, checked GPT: one header and its entry array.
type gpt struct {
	ss    int64  // sector size
	hdr   []byte // one sector
	array []byte
	lba   int64 // where hdr was read
	count int
	esize int
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) int64  { return int64(binary.LittleEndian.Uint64(b)) }

// readGPT reads and checks the header at lba (sector size ss) and its
// array on a disk of size bytes.
func readGPT(r io.ReaderAt, size, ss, lba int64) (*gpt, error) {
	if lba < 1 || (lba+1)*ss > size {
		return nil, errNoGPT
	}
	hdr := make([]byte, ss)
	if _, err := r.ReadAt(hdr, lba*ss); err != nil && err != io.EOF {
		return nil, err
	}
	if !bytes.Equal(hdr[gptSig:gptSig+8], []byte("EFI PART")) {
		return nil, errNoGPT
	}
	hsize := int64(le32(hdr[gptHdrSize:]))
	if hsize < 92 || hsize > ss {
		return nil, errNoGPT
	}
	if hdrCRC(hdr) != le32(hdr[gptHdrCRC:]) || le64(hdr[gptMyLBA:]) != lba {
		return nil, errNoGPT
	}
	count, esize := int64(le32(hdr[gptCount:])), int64(le32(hdr[gptEntrySize:]))
	if esize < 128 || esize > 4096 || esize%8 != 0 || count*esize > gptMaxArrayBytes {
		return nil, errNoGPT
	}
	alba := le64(hdr[gptArrayLBA:])
	if alba < 1 || alba > size/ss || alba*ss+count*esize > size {
		return nil, errNoGPT
	}
	array := make([]byte, count*esize)
	if _, err := r.ReadAt(array, alba*ss); err != nil && err != io.EOF {
		return nil, err
	}
	if crc32.ChecksumIEEE(array) != le32(hdr[gptArrayCRC:]) {
		return nil, errNoGPT
	}
	return &gpt{ss: ss, hdr: hdr, array: array, lba: lba, count: int(count), esize: int(esize)}, nil
}

func hdrCRC(hdr []byte) uint32 {
	h := append([]byte(nil), hdr[:le32(hdr[gptHdrSize:])]...)
	clear(h[gptHdrCRC : gptHdrCRC+4])
	return crc32.ChecksumIEEE(h)
}

// findGPT finds the GPT of a disk of size bytes installed from an image of
// imageSize bytes: the primary header, or else the backup where the image
// had it (its last LBA), trying 512- and 4096-byte sectors.
func findGPT(r io.ReaderAt, size, imageSize int64) (*gpt, error) {
	for _, ss := range []int64{512, 4096} {
		if g, err := readGPT(r, size, ss, 1); err == nil {
			return g, nil
		} else if !errors.Is(err, errNoGPT) {
			return nil, err
		}
	}
	for _, ss := range []int64{512, 4096} {
		if g, err := readGPT(r, size, ss, imageSize/ss-1); err == nil {
			return g, nil
		} else if !errors.Is(err, errNoGPT) {
			return nil, err
		}
	}
	return nil, errNoGPT
}

func (g *gpt) arraySectors() int64 { return (int64(g.count*g.esize) + g.ss - 1) / g.ss }

// entry returns the bytes of entry i, and whether it is in use.
func (g *gpt) entry(i int) ([]byte, bool) {
	e := g.array[i*g.esize:][:g.esize]
	return e, !bytes.Equal(e[:16], make([]byte, 16))
}

// lastEntry returns the index of the used entry that ends last, or -1.
func (g *gpt) lastEntry() int {
	best, end := -1, int64(-1)
	for i := range g.count {
		if e, ok := g.entry(i); ok && le64(e[40:]) > end {
			best, end = i, le64(e[40:])
		}
	}
	return best
}

// write writes the primary header and array at LBA 1 and 2.., and the
// backup array and header at the end of a disk of size bytes, for a
// usable area ending at lastUsable.
func (g *gpt) write(w io.WriterAt, size, lastUsable int64) error {
	last := size/g.ss - 1
	arrayCRC := crc32.ChecksumIEEE(g.array)
	primary := append([]byte(nil), g.hdr...)
	if g.lba != 1 {
		// Rebuilt from the backup: the primary's array follows it.
		binary.LittleEndian.PutUint64(primary[gptArrayLBA:], 2)
	}
	binary.LittleEndian.PutUint64(primary[gptMyLBA:], 1)
	binary.LittleEndian.PutUint64(primary[gptAltLBA:], uint64(last))
	binary.LittleEndian.PutUint64(primary[gptLastUsable:], uint64(lastUsable))
	binary.LittleEndian.PutUint32(primary[gptArrayCRC:], arrayCRC)
	binary.LittleEndian.PutUint32(primary[gptHdrCRC:], hdrCRC(primary))

	backup := append([]byte(nil), primary...)
	backupArray := last - g.arraySectors()
	binary.LittleEndian.PutUint64(backup[gptMyLBA:], uint64(last))
	binary.LittleEndian.PutUint64(backup[gptAltLBA:], 1)
	binary.LittleEndian.PutUint64(backup[gptArrayLBA:], uint64(backupArray))
	binary.LittleEndian.PutUint32(backup[gptHdrCRC:], hdrCRC(backup))

	for _, x := range []struct {
		b   []byte
		lba int64
	}{
		{g.array, le64(primary[gptArrayLBA:])},
		{primary, 1},
		{g.array, backupArray},
		{backup, last},
	} {
		if _, err := w.WriteAt(x.b, x.lba*g.ss); err != nil {
			return fmt.Errorf("writing the GPT at LBA %d: %w", x.lba, err)
		}
	}
	return nil
}
