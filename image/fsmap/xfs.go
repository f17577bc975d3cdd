package fsmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/discuscast/discus/image"
)

// XFS splits the volume into allocation groups (AGs), each with its own
// headers and its own free space B+trees. The reader walks every AG's
// by-block-number free space tree (bnobt) and keeps everything that is not a
// free extent: AG headers, inode chunks, btree blocks, the free list, the
// internal log and file data are all "not free". Blocks on the AG free list
// (AGFL) are not in the bnobt, so they are kept too.

func init() {
	register(fsReader{name: "xfs", probe: xfsProbe, used: xfsUsed})
}

const (
	xfsMaxLevels  = 16 // real trees are a handful of levels deep
	xfsHdrV4      = 16 // short-form btree block header
	xfsHdrV5      = 56 // with CRC, LSN, UUID, owner
	xfsAllocRecSz = 8  // {startblock, blockcount}, as both leaf records and node keys
	xfsPtrSz      = 4
)

var errXFSSuper = errors.New("fsmap: not an XFS superblock")

// errXFSDirty reports a log holding transactions not yet written back: the
// free space trees on disk may show blocks as free that log recovery will
// allocate, so such a filesystem is kept whole.
var errXFSDirty = errors.New("fsmap: XFS log is dirty (not cleanly unmounted)")

type xfsGeom struct {
	blockSize  int64
	sectSize   int64
	dblocks    int64
	agBlocks   int64
	agCount    int64
	crc        bool // v5 superblock: CRC-format btree blocks
	btreeMagic []byte
}

func xfsProbe(r io.ReaderAt, size int64) bool {
	var b [512]byte
	if err := readExactlyAt(r, b[:], 0); err != nil {
		return false
	}
	_, err := xfsParse(b[:])
	return err == nil
}

func xfsParse(b []byte) (*xfsGeom, error) {
	if len(b) < 512 || !bytes.Equal(b[:4], []byte("XFSB")) {
		return nil, errXFSSuper
	}
	be := binary.BigEndian
	g := &xfsGeom{
		blockSize: int64(be.Uint32(b[4:])),
		dblocks:   int64(be.Uint64(b[8:]) & (1<<52 - 1)),
		agBlocks:  int64(be.Uint32(b[84:])),
		agCount:   int64(be.Uint32(b[88:])),
		sectSize:  int64(be.Uint16(b[102:])),
	}
	switch be.Uint16(b[100:]) & 0x000F {
	case 4:
		g.btreeMagic = []byte("ABTB")
	case 5:
		g.crc, g.btreeMagic = true, []byte("AB3B")
	default:
		return nil, fmt.Errorf("fsmap: XFS superblock version %d not supported", be.Uint16(b[100:])&0xF)
	}
	switch {
	case g.blockSize < 512 || g.blockSize > 65536 || g.blockSize&(g.blockSize-1) != 0:
		return nil, errXFSSuper
	case g.sectSize < 512 || g.sectSize > g.blockSize || g.sectSize&(g.sectSize-1) != 0:
		return nil, errXFSSuper
	case g.agBlocks < 16 || g.agBlocks > 1<<31 || g.agCount == 0 || g.agCount > 1<<24 || g.dblocks == 0:
		return nil, errXFSSuper
	case (g.agCount-1)*g.agBlocks >= g.dblocks || g.agCount*g.agBlocks < g.dblocks:
		return nil, errXFSSuper
	case b[126] != 0:
		return nil, errors.New("fsmap: XFS mkfs did not finish (sb_inprogress)")
	}
	return g, nil
}

func xfsUsed(r io.ReaderAt, size int64) ([]image.Range, error) {
	var b [512]byte
	if err := readExactlyAt(r, b[:], 0); err != nil {
		return nil, fmt.Errorf("fsmap: XFS superblock: %w", err)
	}
	g, err := xfsParse(b[:])
	if err != nil {
		return nil, err
	}
	if g.dblocks > size/g.blockSize {
		return nil, fmt.Errorf("fsmap: XFS volume of %d blocks is larger than its %d-byte partition", g.dblocks, size)
	}
	if err := xfsCheckLogClean(r, g, b[:]); err != nil {
		return nil, err
	}
	var used []image.Range
	blk := make([]byte, g.blockSize)
	for agno := range g.agCount {
		agStart := agno * g.agBlocks
		free, agLen, err := xfsAGFree(r, g, agno, blk)
		if err != nil {
			return nil, fmt.Errorf("fsmap: XFS AG %d: %w", agno, err)
		}
		next := int64(0) // first AG block not yet accounted for
		for _, f := range free {
			if f.Off < next {
				return nil, fmt.Errorf("fsmap: XFS AG %d: free extents overlap at block %d", agno, f.Off)
			}
			if f.Off > next {
				used = append(used, image.Range{Off: (agStart + next) * g.blockSize, Len: (f.Off - next) * g.blockSize})
			}
			next = f.End()
		}
		if next < agLen {
			used = append(used, image.Range{Off: (agStart + next) * g.blockSize, Len: (agLen - next) * g.blockSize})
		}
	}
	return used, nil
}

// xfsAGFree reads the AG's free space header (AGF) and returns the free
// extents of its bnobt in AG blocks, sorted, with the AG's length.
func xfsAGFree(r io.ReaderAt, g *xfsGeom, agno int64, blk []byte) ([]image.Range, int64, error) {
	agByte := agno * g.agBlocks * g.blockSize
	agf := make([]byte, g.sectSize)
	if err := readExactlyAt(r, agf, agByte+g.sectSize); err != nil {
		return nil, 0, fmt.Errorf("reading AGF: %w", err)
	}
	be := binary.BigEndian
	if !bytes.Equal(agf[:4], []byte("XAGF")) || int64(be.Uint32(agf[8:])) != agno {
		return nil, 0, errors.New("bad AGF magic or sequence number")
	}
	agLen := int64(be.Uint32(agf[12:]))
	root, levels := int64(be.Uint32(agf[16:])), int(be.Uint32(agf[28:]))
	if agLen == 0 || agLen > g.agBlocks || agno*g.agBlocks+agLen > g.dblocks {
		return nil, 0, fmt.Errorf("AG length %d out of range", agLen)
	}
	if levels < 1 || levels > xfsMaxLevels {
		return nil, 0, fmt.Errorf("bnobt has %d levels", levels)
	}

	hdr := int64(xfsHdrV4)
	if g.crc {
		hdr = xfsHdrV5
	}
	leafMax := (g.blockSize - hdr) / xfsAllocRecSz
	nodeMax := (g.blockSize - hdr) / (xfsAllocRecSz + xfsPtrSz)

	type visit struct {
		bno   int64
		level int
	}
	stack := []visit{{root, levels - 1}}
	seen := map[int64]bool{}
	var free []image.Range
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v.bno <= 0 || v.bno >= agLen || seen[v.bno] {
			return nil, 0, fmt.Errorf("bnobt block %d invalid or seen twice", v.bno)
		}
		seen[v.bno] = true
		if err := readExactlyAt(r, blk, (agno*g.agBlocks+v.bno)*g.blockSize); err != nil {
			return nil, 0, fmt.Errorf("reading bnobt block %d: %w", v.bno, err)
		}
		if !bytes.Equal(blk[:4], g.btreeMagic) {
			return nil, 0, fmt.Errorf("bnobt block %d has magic %q", v.bno, blk[:4])
		}
		level, n := int(be.Uint16(blk[4:])), int64(be.Uint16(blk[6:]))
		if level != v.level {
			return nil, 0, fmt.Errorf("bnobt block %d is at level %d, expected %d", v.bno, level, v.level)
		}
		if level == 0 {
			if n > leafMax {
				return nil, 0, fmt.Errorf("bnobt leaf %d has %d records", v.bno, n)
			}
			for i := range n {
				p := hdr + i*xfsAllocRecSz
				start, count := int64(be.Uint32(blk[p:])), int64(be.Uint32(blk[p+4:]))
				if count == 0 || start+count > agLen {
					return nil, 0, fmt.Errorf("free extent %d+%d outside the AG", start, count)
				}
				free = append(free, image.Range{Off: start, Len: count})
			}
			continue
		}
		if n == 0 || n > nodeMax {
			return nil, 0, fmt.Errorf("bnobt node %d has %d records", v.bno, n)
		}
		ptrs := hdr + nodeMax*xfsAllocRecSz
		for i := range n {
			stack = append(stack, visit{int64(be.Uint32(blk[ptrs+i*xfsPtrSz:])), level - 1})
		}
	}
	// The AGF's count of free blocks is what xfs_repair checks the tree
	// against; a mismatch means a torn or stale read of the metadata.
	var total int64
	for _, f := range free {
		total += f.Len
	}
	if want := int64(be.Uint32(agf[52:])); total != want {
		return nil, 0, fmt.Errorf("bnobt holds %d free blocks, AGF says %d", total, want)
	}
	slices.SortFunc(free, func(a, b image.Range) int {
		switch {
		case a.Off < b.Off:
			return -1
		case a.Off > b.Off:
			return 1
		}
		return 0
	})
	return free, agLen, nil
}

const (
	xfsBB           = 512 // log "basic blocks"
	xfsLogMagic     = 0xFEEDBABE
	xfsLogHdrCycle  = 32 << 10 // v2 logs use one header block per 32 KiB of record
	xfsUnmountTrans = 0x20
	xfsMaxLogBytes  = 2 << 30
	xfsLogReadChunk = 1 << 20
)

// xfsCheckLogClean finds the log's head the way log recovery does (the
// first basic block whose cycle number differs from the first block's) and
// accepts the log only when the record just before the head is a lone
// unmount record, as a clean unmount leaves it.
func xfsCheckLogClean(r io.ReaderAt, g *xfsGeom, sb []byte) error {
	be := binary.BigEndian
	logStart := int64(be.Uint64(sb[48:]))
	logBytes := int64(be.Uint32(sb[96:])) * g.blockSize
	agBlkLog := uint(sb[124])
	if logStart == 0 {
		return fmt.Errorf("%w: external log, cannot check it", errXFSDirty)
	}
	if agBlkLog == 0 || agBlkLog > 31 || logBytes < 64*xfsBB || logBytes > xfsMaxLogBytes {
		return fmt.Errorf("fsmap: XFS log geometry (agblklog %d, %d bytes) out of range", agBlkLog, logBytes)
	}
	agno, agbno := logStart>>agBlkLog, logStart&(1<<agBlkLog-1)
	logOff := (agno*g.agBlocks + agbno) * g.blockSize
	if agno >= g.agCount || agbno >= g.agBlocks || logOff+logBytes > g.dblocks*g.blockSize {
		return fmt.Errorf("fsmap: XFS log at block %d outside the filesystem", logStart)
	}

	logBB := logBytes / xfsBB
	head, lastHdr, firstCycle := int64(-1), int64(-1), uint32(0)
	buf := make([]byte, min(logBytes, xfsLogReadChunk))
	for pos := int64(0); pos < logBytes && head < 0; pos += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), logBytes-pos)]
		if err := readExactlyAt(r, chunk, logOff+pos); err != nil {
			return fmt.Errorf("fsmap: reading XFS log: %w", err)
		}
		for i := int64(0); i+xfsBB <= int64(len(chunk)); i += xfsBB {
			bb := (pos + i) / xfsBB
			cycle, isHdr := be.Uint32(chunk[i:]), false
			if cycle == xfsLogMagic {
				cycle, isHdr = be.Uint32(chunk[i+4:]), true
			}
			if bb == 0 {
				firstCycle = cycle
			}
			if cycle != firstCycle {
				head = bb
				break
			}
			if isHdr {
				lastHdr = bb
			}
		}
	}
	if head < 0 {
		head = 0 // the whole log is one cycle: the head has just wrapped
	}
	if lastHdr < 0 && head > 0 {
		// The last record began before the log wrapped: its header is near
		// the log's end, at most one record (256 KiB) away.
		tail := min(logBytes-head*xfsBB, xfsLogReadChunk)
		chunk := buf[:tail]
		if err := readExactlyAt(r, chunk, logOff+logBytes-tail); err != nil {
			return fmt.Errorf("fsmap: reading XFS log: %w", err)
		}
		for i := tail - xfsBB; i >= 0; i -= xfsBB {
			if be.Uint32(chunk[i:]) == xfsLogMagic {
				lastHdr = (logBytes - tail + i) / xfsBB
				break
			}
		}
	}
	if lastHdr < 0 {
		return fmt.Errorf("%w: no log record before the head", errXFSDirty)
	}

	hdr := make([]byte, xfsBB)
	if err := readExactlyAt(r, hdr, logOff+lastHdr*xfsBB); err != nil {
		return fmt.Errorf("fsmap: reading XFS log record: %w", err)
	}
	version, recLen := be.Uint32(hdr[8:]), int64(be.Uint32(hdr[12:]))
	numOps, iclogSize := be.Uint32(hdr[40:]), int64(be.Uint32(hdr[320:]))
	hblks := int64(1)
	if version&2 != 0 && iclogSize > xfsLogHdrCycle {
		hblks = (iclogSize + xfsLogHdrCycle - 1) / xfsLogHdrCycle
	}
	if recLen <= 0 || recLen > logBytes {
		return fmt.Errorf("%w: last log record has length %d", errXFSDirty, recLen)
	}
	dataBB := (lastHdr + hblks) % logBB
	end := (dataBB + (recLen+xfsBB-1)/xfsBB) % logBB
	if end != head {
		return fmt.Errorf("%w: last log record (block %d) ends at block %d, not at the head (block %d)",
			errXFSDirty, lastHdr, end, head)
	}
	if numOps != 1 {
		return fmt.Errorf("%w: last log record (block %d) holds %d operations, not one unmount record",
			errXFSDirty, lastHdr, numOps)
	}
	op := make([]byte, 16)
	if err := readExactlyAt(r, op, logOff+dataBB*xfsBB); err != nil {
		return fmt.Errorf("fsmap: reading XFS log record: %w", err)
	}
	if op[9]&xfsUnmountTrans == 0 {
		return fmt.Errorf("%w: last log record is not an unmount record", errXFSDirty)
	}
	return nil
}
