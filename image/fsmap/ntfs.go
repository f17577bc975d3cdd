package fsmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/discuscast/discus/image"
)

// NTFS keeps its own cluster allocation bitmap in the data of the metadata
// file $Bitmap (MFT record 6). The reader finds $MFT from the boot sector,
// locates record 6 through $MFT's runlist, decodes $Bitmap's runlist and
// keeps every cluster whose bit is set. The bitmap already covers all
// metadata files; the boot sector, $MFT's own runs and $MFTMirr are added
// again anyway, with the backup boot sector that lives past the last
// cluster, outside the bitmap.

func init() {
	register(fsReader{name: "ntfs", probe: ntfsProbe, used: ntfsUsed})
}

const (
	ntfsFixupStride   = 512 // update sequence arrays protect every 512 bytes, whatever the sector size
	ntfsMaxCluster    = 2 << 20
	ntfsMaxRecord     = 64 << 10
	ntfsBitmapChunk   = 1 << 20
	ntfsAttrVolInfo   = 0x70
	ntfsAttrData      = 0x80
	ntfsAttrEnd       = 0xFFFFFFFF
	ntfsRecordVolume  = 3
	ntfsRecordBitmap  = 6
	ntfsVolumeDirty   = 0x0001
	ntfsBootFileBytes = 8192 // $Boot is 8 KiB whatever the cluster size
)

var errNTFSBoot = errors.New("fsmap: not an NTFS boot sector")

// errNTFSDirty reports a volume that was not cleanly unmounted: $LogFile may
// hold allocations that $Bitmap does not show yet, so it is kept whole.
var errNTFSDirty = errors.New("fsmap: NTFS volume is marked dirty (not cleanly unmounted; run chkdsk)")

type ntfsGeom struct {
	sectorSize   int64
	clusterSize  int64
	totalSectors int64
	clusters     int64
	mftLCN       int64
	mirrLCN      int64
	recordSize   int64
}

// ntfsRun is one extent of a non-resident attribute; lcn < 0 is a hole.
type ntfsRun struct {
	vcn, lcn, n int64
}

func ntfsProbe(r io.ReaderAt, size int64) bool {
	var b [512]byte
	if err := readExactlyAt(r, b[:], 0); err != nil {
		return false
	}
	_, err := ntfsParse(b[:])
	return err == nil
}

func ntfsParse(b []byte) (*ntfsGeom, error) {
	if len(b) < 512 || !bytes.Equal(b[3:11], []byte("NTFS    ")) || b[510] != 0x55 || b[511] != 0xAA {
		return nil, errNTFSBoot
	}
	le := binary.LittleEndian
	g := &ntfsGeom{sectorSize: int64(le.Uint16(b[11:]))}
	if g.sectorSize < 256 || g.sectorSize > 4096 || g.sectorSize&(g.sectorSize-1) != 0 {
		return nil, errNTFSBoot
	}
	// Clusters above 64 KiB store a negative power of two.
	if spc := b[13]; spc <= 0x80 {
		if spc == 0 || spc&(spc-1) != 0 {
			return nil, errNTFSBoot
		}
		g.clusterSize = int64(spc) * g.sectorSize
	} else {
		shift := 256 - int(spc)
		if shift > 21 {
			return nil, errNTFSBoot
		}
		g.clusterSize = g.sectorSize << shift
	}
	if g.clusterSize > ntfsMaxCluster {
		return nil, errNTFSBoot
	}
	total, mft, mirr := le.Uint64(b[0x28:]), le.Uint64(b[0x30:]), le.Uint64(b[0x38:])
	if total == 0 || total > 1<<48 || mft > 1<<48 || mirr > 1<<48 {
		return nil, errNTFSBoot
	}
	g.totalSectors = int64(total)
	g.clusters = g.totalSectors * g.sectorSize / g.clusterSize
	g.mftLCN, g.mirrLCN = int64(mft), int64(mirr)
	if g.mftLCN >= g.clusters || g.mirrLCN >= g.clusters {
		return nil, errNTFSBoot
	}
	if v := int8(b[0x40]); v > 0 {
		g.recordSize = int64(v) * g.clusterSize
	} else if v > -31 {
		g.recordSize = 1 << -v
	}
	if g.recordSize < ntfsFixupStride || g.recordSize > ntfsMaxRecord || g.recordSize&(g.recordSize-1) != 0 {
		return nil, errNTFSBoot
	}
	return g, nil
}

func ntfsUsed(r io.ReaderAt, size int64) ([]image.Range, error) {
	var b [512]byte
	if err := readExactlyAt(r, b[:], 0); err != nil {
		return nil, fmt.Errorf("fsmap: NTFS boot sector: %w", err)
	}
	g, err := ntfsParse(b[:])
	if err != nil {
		return nil, err
	}
	if g.totalSectors*g.sectorSize > size {
		return nil, fmt.Errorf("fsmap: NTFS volume of %d bytes is larger than its %d-byte partition",
			g.totalSectors*g.sectorSize, size)
	}
	mft, err := ntfsReadRecord(r, g, g.mftLCN*g.clusterSize)
	if err != nil {
		return nil, fmt.Errorf("fsmap: $MFT record 0: %w", err)
	}
	mftRuns, _, err := ntfsDataRuns(mft, g)
	if err != nil {
		return nil, fmt.Errorf("fsmap: $MFT: %w", err)
	}
	if err := ntfsCheckClean(r, g, mftRuns); err != nil {
		return nil, err
	}
	bmOff, err := ntfsRunsOffset(mftRuns, g, ntfsRecordBitmap*g.recordSize)
	if err != nil {
		return nil, fmt.Errorf("fsmap: locating $Bitmap: %w", err)
	}
	bmRec, err := ntfsReadRecord(r, g, bmOff)
	if err != nil {
		return nil, fmt.Errorf("fsmap: $Bitmap record: %w", err)
	}
	bmRuns, bmSize, err := ntfsDataRuns(bmRec, g)
	if err != nil {
		return nil, fmt.Errorf("fsmap: $Bitmap: %w", err)
	}
	need := (g.clusters + 7) / 8
	if bmSize < need {
		return nil, fmt.Errorf("fsmap: $Bitmap holds %d bytes, %d clusters need %d", bmSize, g.clusters, need)
	}
	used, err := ntfsBitmapRanges(r, g, bmRuns, need)
	if err != nil {
		return nil, err
	}

	used = append(used, image.Range{Off: 0, Len: max(ntfsBootFileBytes, g.clusterSize)})
	for _, run := range mftRuns {
		if run.lcn >= 0 {
			used = append(used, image.Range{Off: run.lcn * g.clusterSize, Len: run.n * g.clusterSize})
		}
	}
	// $MFTMirr mirrors at least the first four records, at least a cluster.
	mirrLen := (max(4*g.recordSize, g.clusterSize) + g.clusterSize - 1) / g.clusterSize * g.clusterSize
	used = append(used, image.Range{Off: g.mirrLCN * g.clusterSize, Len: mirrLen})
	// The bytes past the last whole cluster hold the backup boot sector (at
	// sector totalSectors, or the partition's last sector).
	volEnd := g.totalSectors * g.sectorSize
	tail := g.clusters * g.clusterSize
	used = append(used, image.Range{Off: tail, Len: volEnd + g.sectorSize - tail})
	used = append(used, image.Range{Off: size - g.sectorSize, Len: g.sectorSize})
	return normalize(used), nil
}

// ntfsReadRecord reads one MFT record and undoes its update sequence: the
// last two bytes of every 512-byte stride were replaced on disk by the
// sequence number, and a mismatch means a torn write.
func ntfsReadRecord(r io.ReaderAt, g *ntfsGeom, off int64) ([]byte, error) {
	rec := make([]byte, g.recordSize)
	if err := readExactlyAt(r, rec, off); err != nil {
		return nil, err
	}
	if !bytes.Equal(rec[:4], []byte("FILE")) {
		return nil, errors.New("no FILE signature")
	}
	le := binary.LittleEndian
	usaOff, usaCount := int64(le.Uint16(rec[4:])), int64(le.Uint16(rec[6:]))
	strides := g.recordSize / ntfsFixupStride
	if usaCount != strides+1 || usaOff < 8 || usaOff+2*usaCount > g.recordSize {
		return nil, fmt.Errorf("bad update sequence array (offset %d, count %d)", usaOff, usaCount)
	}
	usn := rec[usaOff : usaOff+2]
	for i := int64(1); i < usaCount; i++ {
		end := i * ntfsFixupStride
		if !bytes.Equal(rec[end-2:end], usn) {
			return nil, fmt.Errorf("update sequence mismatch in stride %d", i-1)
		}
		copy(rec[end-2:end], rec[usaOff+2*i:usaOff+2*i+2])
	}
	return rec, nil
}

// ntfsDataRuns returns the runs and data size of the record's unnamed,
// non-resident $DATA attribute (the extent starting at VCN 0).
func ntfsDataRuns(rec []byte, g *ntfsGeom) ([]ntfsRun, int64, error) {
	le := binary.LittleEndian
	inUse := min(int64(le.Uint32(rec[0x18:])), int64(len(rec)))
	off := int64(le.Uint16(rec[0x14:]))
	for off+16 <= inUse {
		typ, alen := le.Uint32(rec[off:]), int64(le.Uint32(rec[off+4:]))
		if typ == ntfsAttrEnd {
			break
		}
		if alen < 16 || off+alen > inUse {
			return nil, 0, fmt.Errorf("attribute at %d has bad length %d", off, alen)
		}
		a := rec[off : off+alen]
		off += alen
		if typ != ntfsAttrData || a[9] != 0 {
			continue
		}
		if a[8] == 0 || alen < 0x40 {
			return nil, 0, errors.New("$DATA is resident")
		}
		startVCN := int64(le.Uint64(a[0x10:]))
		if startVCN != 0 {
			continue
		}
		dataSize := le.Uint64(a[0x30:])
		if dataSize > 1<<56 {
			return nil, 0, fmt.Errorf("$DATA size %d", dataSize)
		}
		runOff := int64(le.Uint16(a[0x20:]))
		if runOff < 0x40 || runOff > alen {
			return nil, 0, fmt.Errorf("runlist offset %d outside attribute", runOff)
		}
		runs, err := ntfsDecodeRuns(a[runOff:], g.clusters)
		if err != nil {
			return nil, 0, err
		}
		return runs, int64(dataSize), nil
	}
	return nil, 0, errors.New("no non-resident unnamed $DATA attribute")
}

// ntfsDecodeRuns decodes a mapping pairs array: each run is a header byte
// giving the sizes of a length and of a signed LCN delta from the previous
// run; a delta of size zero is a hole.
func ntfsDecodeRuns(b []byte, clusters int64) ([]ntfsRun, error) {
	var runs []ntfsRun
	var vcn, lcn int64
	for p := 0; p < len(b) && b[p] != 0; {
		lenSize, offSize := int(b[p]&0x0F), int(b[p]>>4)
		p++
		if lenSize == 0 || lenSize > 8 || offSize > 8 || p+lenSize+offSize > len(b) {
			return nil, fmt.Errorf("bad run header at %d", p-1)
		}
		n := ntfsSigned(b[p : p+lenSize])
		p += lenSize
		if n <= 0 || n > clusters {
			return nil, fmt.Errorf("bad run length %d", n)
		}
		run := ntfsRun{vcn: vcn, lcn: -1, n: n}
		if offSize > 0 {
			lcn += ntfsSigned(b[p : p+offSize])
			p += offSize
			if lcn < 0 || lcn > clusters-n {
				return nil, fmt.Errorf("run at LCN %d+%d outside the %d-cluster volume", lcn, n, clusters)
			}
			run.lcn = lcn
		}
		runs = append(runs, run)
		vcn += n
		if vcn > 1<<48 {
			return nil, errors.New("runlist too long")
		}
	}
	return runs, nil
}

// ntfsSigned reads a little-endian two's complement integer of 1 to 8 bytes.
func ntfsSigned(b []byte) int64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	shift := uint(64 - 8*len(b))
	return int64(v<<shift) >> shift
}

// ntfsRunsOffset maps a byte offset within an attribute to the volume; the
// MFT record there must not straddle two runs.
func ntfsRunsOffset(runs []ntfsRun, g *ntfsGeom, off int64) (int64, error) {
	vcn := off / g.clusterSize
	for _, run := range runs {
		if vcn < run.vcn || vcn >= run.vcn+run.n {
			continue
		}
		if run.lcn < 0 {
			return 0, errors.New("offset falls in a hole")
		}
		if off+g.recordSize > (run.vcn+run.n)*g.clusterSize {
			return 0, errors.New("record straddles two runs")
		}
		return run.lcn*g.clusterSize + off - run.vcn*g.clusterSize, nil
	}
	return 0, fmt.Errorf("byte %d is past the runlist", off)
}

// ntfsBitmapRanges streams the first need bytes of $Bitmap through its runs
// and turns set bits into cluster ranges.
func ntfsBitmapRanges(r io.ReaderAt, g *ntfsGeom, runs []ntfsRun, need int64) ([]image.Range, error) {
	var used []image.Range
	add := func(c int64) {
		off := c * g.clusterSize
		if k := len(used) - 1; k >= 0 && used[k].End() == off {
			used[k].Len += g.clusterSize
		} else {
			used = append(used, image.Range{Off: off, Len: g.clusterSize})
		}
	}
	buf := make([]byte, min(need, ntfsBitmapChunk))
	var done int64 // bitmap bytes processed; runs are in VCN order
	for _, run := range runs {
		if done >= need {
			break
		}
		if run.vcn*g.clusterSize != done {
			return nil, fmt.Errorf("fsmap: $Bitmap runlist has a gap at VCN %d", run.vcn)
		}
		if run.lcn < 0 {
			return nil, errors.New("fsmap: $Bitmap is sparse")
		}
		runBytes := min(run.n*g.clusterSize, need-done)
		for pos := int64(0); pos < runBytes; {
			chunk := buf[:min(int64(len(buf)), runBytes-pos)]
			if err := readExactlyAt(r, chunk, run.lcn*g.clusterSize+pos); err != nil {
				return nil, fmt.Errorf("fsmap: reading $Bitmap: %w", err)
			}
			for i, x := range chunk {
				if x == 0 {
					continue
				}
				base := (done + pos + int64(i)) * 8
				for bit := range int64(8) {
					if x&(1<<bit) != 0 && base+bit < g.clusters {
						add(base + bit)
					}
				}
			}
			pos += int64(len(chunk))
		}
		done += runBytes
	}
	if done < need {
		return nil, fmt.Errorf("fsmap: $Bitmap runs cover %d of %d bytes", done, need)
	}
	return used, nil
}

// ntfsCheckClean refuses a volume marked dirty in $Volume: Windows sets the
// flag while the volume is in use or needs chkdsk, when $LogFile may hold
// allocations that $Bitmap does not show yet.
func ntfsCheckClean(r io.ReaderAt, g *ntfsGeom, mftRuns []ntfsRun) error {
	off, err := ntfsRunsOffset(mftRuns, g, ntfsRecordVolume*g.recordSize)
	if err != nil {
		return fmt.Errorf("fsmap: locating $Volume: %w", err)
	}
	rec, err := ntfsReadRecord(r, g, off)
	if err != nil {
		return fmt.Errorf("fsmap: $Volume record: %w", err)
	}
	v, err := ntfsResidentValue(rec, ntfsAttrVolInfo)
	if err != nil {
		return fmt.Errorf("fsmap: $Volume: %w", err)
	}
	if len(v) < 12 {
		return fmt.Errorf("fsmap: $VOLUME_INFORMATION of %d bytes", len(v))
	}
	if flags := binary.LittleEndian.Uint16(v[10:]); flags&ntfsVolumeDirty != 0 {
		return fmt.Errorf("%w: $Volume flags %#04x", errNTFSDirty, flags)
	}
	return nil
}

// ntfsResidentValue returns the value of the record's first resident
// attribute of type typ.
func ntfsResidentValue(rec []byte, typ uint32) ([]byte, error) {
	le := binary.LittleEndian
	inUse := min(int64(le.Uint32(rec[0x18:])), int64(len(rec)))
	for off := int64(le.Uint16(rec[0x14:])); off+24 <= inUse; {
		t, alen := le.Uint32(rec[off:]), int64(le.Uint32(rec[off+4:]))
		if t == ntfsAttrEnd {
			break
		}
		if alen < 24 || off+alen > inUse {
			return nil, fmt.Errorf("attribute at %d has bad length %d", off, alen)
		}
		a := rec[off : off+alen]
		off += alen
		if t != typ {
			continue
		}
		if a[8] != 0 {
			return nil, fmt.Errorf("attribute %#x is not resident", typ)
		}
		vlen, voff := int64(le.Uint32(a[0x10:])), int64(le.Uint16(a[0x14:]))
		if voff+vlen > alen {
			return nil, fmt.Errorf("attribute %#x value outside the attribute", typ)
		}
		return a[voff : voff+vlen], nil
	}
	return nil, fmt.Errorf("no attribute %#x", typ)
}
