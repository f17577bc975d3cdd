package fsmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/discuscast/discus/image"
)

// ext2/3/4: the superblock at byte 1024 describes block groups; each
// group's descriptor points at its block bitmap, inode bitmap and inode
// table. A set bitmap bit is a block (a cluster with bigalloc) in use. The
// bitmaps already cover metadata, but the metadata is added explicitly too,
// so that a group whose bitmap is uninitialised (BLOCK_UNINIT) or a
// surprising layout still keeps everything needed to mount and fsck.
const (
	extSuperOff = 1024
	extMagic    = 0xef53

	extCompatHasJournal   = 0x4
	extCompatSparseSuper2 = 0x200

	extIncompatFiletype   = 0x2
	extIncompatRecover    = 0x4
	extIncompatJournalDev = 0x8
	extIncompatMetaBG     = 0x10
	extIncompatExtents    = 0x40
	extIncompat64Bit      = 0x80
	extIncompatMMP        = 0x100

	extROCompatSparseSuper  = 0x1
	extROCompatLargeFile    = 0x2
	extROCompatBtreeDir     = 0x4
	extROCompatGDTCsum      = 0x10
	extROCompatBigalloc     = 0x200
	extROCompatMetadataCsum = 0x400

	extBGBlockUninit = 0x2
	extInodeExtents  = 0x80000

	extMaxTreeBlocks = 1 << 14 // index/indirect blocks read while walking the journal inode
)

// errExt is a corrupt or unsupported ext superblock or descriptor.
var errExt = errors.New("ext: bad metadata")

func init() {
	register(fsReader{name: "ext4", probe: extProbeVersion(4), used: extUsed})
	register(fsReader{name: "ext3", probe: extProbeVersion(3), used: extUsed})
	register(fsReader{name: "ext2", probe: extProbeVersion(2), used: extUsed})
}

type extSuper struct {
	blocksCount      uint64
	firstDataBlock   uint64
	blockSize        int64
	ratio            uint64 // blocks per cluster (1 without bigalloc)
	blocksPerGroup   uint64
	clustersPerGroup uint64
	inodesPerGroup   uint64
	inodeSize        uint64
	compat           uint32
	incompat         uint32
	roCompat         uint32
	reservedGDT      uint64
	descSize         uint64
	descPerBlock     uint64
	firstMetaBG      uint64
	journalInum      uint32
	mmpBlock         uint64
	backupBGs        [2]uint32
	groups           uint64
	gdtBlocks        uint64 // blocks holding all group descriptors
}

func extReadSuper(r io.ReaderAt, size int64) ([]byte, error) {
	if size < extSuperOff+1024 {
		return nil, errExt
	}
	b := make([]byte, 1024)
	if _, err := r.ReadAt(b, extSuperOff); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint16(b[56:]) != extMagic {
		return nil, errExt
	}
	return b, nil
}

// extProbeVersion recognises ext2, ext3 or ext4 by their features, so each
// partition is named as the kernel would mount it.
func extProbeVersion(v int) func(io.ReaderAt, int64) bool {
	return func(r io.ReaderAt, size int64) bool {
		b, err := extReadSuper(r, size)
		if err != nil || binary.LittleEndian.Uint32(b[24:]) > 6 {
			return false
		}
		compat := binary.LittleEndian.Uint32(b[92:])
		incompat := binary.LittleEndian.Uint32(b[96:])
		roCompat := binary.LittleEndian.Uint32(b[100:])
		ext4 := incompat&^(extIncompatFiletype|extIncompatRecover|extIncompatMetaBG|extIncompatJournalDev) != 0 ||
			roCompat&^(extROCompatSparseSuper|extROCompatLargeFile|extROCompatBtreeDir) != 0
		switch {
		case ext4:
			return v == 4
		case compat&extCompatHasJournal != 0:
			return v == 3
		}
		return v == 2
	}
}

func extParseSuper(b []byte, size int64) (*extSuper, error) {
	le := binary.LittleEndian
	s := &extSuper{
		blocksCount:      uint64(le.Uint32(b[4:])),
		firstDataBlock:   uint64(le.Uint32(b[20:])),
		blocksPerGroup:   uint64(le.Uint32(b[32:])),
		clustersPerGroup: uint64(le.Uint32(b[36:])),
		inodesPerGroup:   uint64(le.Uint32(b[40:])),
		inodeSize:        128,
		compat:           le.Uint32(b[92:]),
		incompat:         le.Uint32(b[96:]),
		roCompat:         le.Uint32(b[100:]),
		reservedGDT:      uint64(le.Uint16(b[206:])),
		journalInum:      le.Uint32(b[224:]),
		descSize:         32,
		firstMetaBG:      uint64(le.Uint32(b[260:])),
		mmpBlock:         le.Uint64(b[360:]),
		backupBGs:        [2]uint32{le.Uint32(b[588:]), le.Uint32(b[592:])},
		ratio:            1,
	}
	logBlock := le.Uint32(b[24:])
	if logBlock > 6 {
		return nil, fmt.Errorf("%w: block size 2^%d KiB", errExt, logBlock)
	}
	s.blockSize = 1024 << logBlock
	if s.incompat&extIncompatJournalDev != 0 {
		return nil, fmt.Errorf("%w: external journal device", errExt)
	}
	if s.incompat&extIncompatRecover != 0 {
		// The on-disk bitmaps lag the journal: a block they call free may
		// hold data that a committed transaction already allocated.
		return nil, fmt.Errorf("%w: journal needs recovery", errExt)
	}
	if le.Uint32(b[76:]) >= 1 { // dynamic revision: variable inode size
		s.inodeSize = uint64(le.Uint16(b[88:]))
	}
	if s.inodeSize < 128 || s.inodeSize > uint64(s.blockSize) || s.inodeSize&(s.inodeSize-1) != 0 {
		return nil, fmt.Errorf("%w: inode size %d", errExt, s.inodeSize)
	}
	if s.incompat&extIncompat64Bit != 0 {
		s.blocksCount |= uint64(le.Uint32(b[336:])) << 32
		s.descSize = uint64(le.Uint16(b[254:]))
		if s.descSize < 64 || s.descSize > 1024 || s.descSize&(s.descSize-1) != 0 {
			return nil, fmt.Errorf("%w: descriptor size %d", errExt, s.descSize)
		}
	}
	bitsPerBlock := uint64(s.blockSize) * 8
	if s.roCompat&extROCompatBigalloc != 0 {
		logCluster := le.Uint32(b[28:])
		if logCluster < logBlock || logCluster-logBlock > 16 {
			return nil, fmt.Errorf("%w: cluster size", errExt)
		}
		s.ratio = 1 << (logCluster - logBlock)
	} else {
		s.clustersPerGroup = s.blocksPerGroup
	}
	if s.clustersPerGroup == 0 || s.clustersPerGroup > bitsPerBlock || s.blocksPerGroup != s.clustersPerGroup*s.ratio {
		return nil, fmt.Errorf("%w: %d blocks, %d clusters per group", errExt, s.blocksPerGroup, s.clustersPerGroup)
	}
	if s.inodesPerGroup == 0 || s.inodesPerGroup > bitsPerBlock {
		return nil, fmt.Errorf("%w: %d inodes per group", errExt, s.inodesPerGroup)
	}
	if s.firstDataBlock > 1 || s.blocksCount <= s.firstDataBlock {
		return nil, fmt.Errorf("%w: first data block %d of %d", errExt, s.firstDataBlock, s.blocksCount)
	}
	if s.blocksCount > uint64(size/s.blockSize) {
		return nil, fmt.Errorf("%w: filesystem (%d blocks of %d) larger than its partition (%d bytes)",
			errExt, s.blocksCount, s.blockSize, size)
	}
	s.groups = (s.blocksCount - s.firstDataBlock + s.blocksPerGroup - 1) / s.blocksPerGroup
	s.descPerBlock = uint64(s.blockSize) / s.descSize
	s.gdtBlocks = (s.groups + s.descPerBlock - 1) / s.descPerBlock
	if s.incompat&extIncompatMetaBG != 0 && s.firstMetaBG > s.gdtBlocks {
		return nil, fmt.Errorf("%w: first meta_bg %d past %d descriptor blocks", errExt, s.firstMetaBG, s.gdtBlocks)
	}
	return s, nil
}

// hasSuper tells whether group g holds a superblock backup (and with it a
// copy of the descriptors and the reserved GDT blocks).
func (s *extSuper) hasSuper(g uint64) bool {
	switch {
	case g == 0:
		return true
	case s.compat&extCompatSparseSuper2 != 0:
		return g == uint64(s.backupBGs[0]) || g == uint64(s.backupBGs[1])
	case g == 1 || s.roCompat&extROCompatSparseSuper == 0:
		return true
	case g%2 == 0:
		return false
	}
	return extIsPower(g, 3) || extIsPower(g, 5) || extIsPower(g, 7)
}

func extIsPower(g, base uint64) bool {
	n := base
	for n < g {
		n *= base
	}
	return n == g
}

func (s *extSuper) groupFirst(g uint64) uint64 { return s.firstDataBlock + g*s.blocksPerGroup }

func (s *extSuper) metaBG(g uint64) bool {
	return s.incompat&extIncompatMetaBG != 0 && g >= s.firstMetaBG*s.descPerBlock
}

// baseMetaBlocks is how many blocks at the start of group g hold the
// superblock copy, descriptors and reserved GDT blocks (the kernel's
// ext4_num_base_meta_clusters, in blocks).
func (s *extSuper) baseMetaBlocks(g uint64) uint64 {
	var n uint64
	if s.hasSuper(g) {
		n = 1
	}
	if !s.metaBG(g) {
		if n > 0 {
			gdb := s.gdtBlocks
			if s.incompat&extIncompatMetaBG != 0 {
				gdb = s.firstMetaBG
			}
			n += gdb + s.reservedGDT
		}
		return n
	}
	first := g / s.descPerBlock * s.descPerBlock
	if g == first || g == first+1 || g == first+s.descPerBlock-1 {
		n++
	}
	return n
}

// descBlock is where descriptor block i lives.
func (s *extSuper) descBlock(i uint64) uint64 {
	if s.incompat&extIncompatMetaBG == 0 || i < s.firstMetaBG {
		return uint64(extSuperOff)/uint64(s.blockSize) + 1 + i
	}
	g := i * s.descPerBlock
	b := s.groupFirst(g)
	if s.hasSuper(g) {
		b++
	}
	return b
}

type extDesc struct {
	blockBitmap, inodeBitmap, inodeTable uint64
	flags                                uint16
}

// extFS is one filesystem being read: its superblock, a cached
// descriptor block and the ranges found so far.
type extFS struct {
	r        io.ReaderAt
	s        *extSuper
	buf      []byte // one block, for bitmaps and tree nodes
	descBuf  []byte
	descIdx  uint64
	haveDesc bool
	used     []image.Range
	budget   int
}

func (fs *extFS) readBlock(blk uint64, b []byte) error {
	if blk >= fs.s.blocksCount {
		return fmt.Errorf("%w: block %d past the end (%d)", errExt, blk, fs.s.blocksCount)
	}
	_, err := fs.r.ReadAt(b, int64(blk)*fs.s.blockSize)
	return err
}

// add records count blocks from blk as used, merging with the previous
// range when contiguous (bitmaps and extents are walked in order).
func (fs *extFS) add(blk, count uint64) error {
	if count == 0 {
		return nil
	}
	if blk >= fs.s.blocksCount || count > fs.s.blocksCount-blk {
		return fmt.Errorf("%w: blocks %d+%d past the end (%d)", errExt, blk, count, fs.s.blocksCount)
	}
	off, n := int64(blk)*fs.s.blockSize, int64(count)*fs.s.blockSize
	if k := len(fs.used); k > 0 && fs.used[k-1].End() == off {
		fs.used[k-1].Len += n
		return nil
	}
	fs.used = append(fs.used, image.Range{Off: off, Len: n})
	return nil
}

func (fs *extFS) desc(g uint64) (extDesc, error) {
	s := fs.s
	i := g / s.descPerBlock
	if !fs.haveDesc || fs.descIdx != i {
		if err := fs.readBlock(s.descBlock(i), fs.descBuf); err != nil {
			return extDesc{}, err
		}
		fs.descIdx, fs.haveDesc = i, true
	}
	d := fs.descBuf[(g%s.descPerBlock)*s.descSize:]
	le := binary.LittleEndian
	e := extDesc{
		blockBitmap: uint64(le.Uint32(d[0:])),
		inodeBitmap: uint64(le.Uint32(d[4:])),
		inodeTable:  uint64(le.Uint32(d[8:])),
		flags:       le.Uint16(d[18:]),
	}
	if s.descSize >= 64 {
		e.blockBitmap |= uint64(le.Uint32(d[32:])) << 32
		e.inodeBitmap |= uint64(le.Uint32(d[36:])) << 32
		e.inodeTable |= uint64(le.Uint32(d[40:])) << 32
	}
	return e, nil
}

func extUsed(r io.ReaderAt, size int64) ([]image.Range, error) {
	b, err := extReadSuper(r, size)
	if err != nil {
		return nil, err
	}
	s, err := extParseSuper(b, size)
	if err != nil {
		return nil, err
	}
	fs := &extFS{r: r, s: s, buf: make([]byte, s.blockSize), descBuf: make([]byte, s.blockSize), budget: extMaxTreeBlocks}
	// Boot block, superblock and primary descriptors, whatever the
	// block size and bigalloc make of group 0's start.
	if err := fs.add(0, min(s.blocksCount, s.descBlock(0)+s.baseMetaBlocks(0))); err != nil {
		return nil, err
	}
	itableBlocks := (s.inodesPerGroup*s.inodeSize + uint64(s.blockSize) - 1) / uint64(s.blockSize)
	csum := s.roCompat&(extROCompatGDTCsum|extROCompatMetadataCsum) != 0
	for g := range s.groups {
		first := s.groupFirst(g)
		if err := fs.add(first, min(s.baseMetaBlocks(g), s.blocksCount-first)); err != nil {
			return nil, err
		}
		d, err := fs.desc(g)
		if err != nil {
			return nil, err
		}
		for _, m := range [][2]uint64{{d.blockBitmap, 1}, {d.inodeBitmap, 1}, {d.inodeTable, itableBlocks}} {
			if m[0] < s.firstDataBlock {
				return nil, fmt.Errorf("%w: group %d metadata at block %d", errExt, g, m[0])
			}
			if err := fs.add(m[0], m[1]); err != nil {
				return nil, err
			}
		}
		if csum && d.flags&extBGBlockUninit != 0 {
			continue // nothing allocated beyond the metadata added above
		}
		if err := fs.readBlock(d.blockBitmap, fs.buf); err != nil {
			return nil, err
		}
		clusters := min(s.clustersPerGroup, (s.blocksCount-first+s.ratio-1)/s.ratio)
		if err := fs.addBitmap(first, clusters); err != nil {
			return nil, err
		}
	}
	if s.compat&extCompatHasJournal != 0 && s.journalInum != 0 {
		if err := fs.addInode(uint64(s.journalInum)); err != nil {
			return nil, fmt.Errorf("journal inode: %w", err)
		}
	}
	if s.incompat&extIncompatMMP != 0 {
		if err := fs.add(s.mmpBlock, 1); err != nil {
			return nil, fmt.Errorf("mmp block: %w", err)
		}
	}
	// Bytes past the filesystem's end are not the filesystem's to free.
	if end := int64(s.blocksCount) * s.blockSize; end < size {
		fs.used = append(fs.used, image.Range{Off: end, Len: size - end})
	}
	return fs.used, nil
}

// addBitmap adds the runs of set bits among the first n bits of fs.buf, a
// block bitmap whose bit 0 is the cluster at block first.
func (fs *extFS) addBitmap(first, n uint64) error {
	ratio := fs.s.ratio
	var runStart uint64
	inRun := false
	flush := func(end uint64) error {
		if !inRun {
			return nil
		}
		inRun = false
		blk := first + runStart*ratio
		count := min((end-runStart)*ratio, fs.s.blocksCount-blk)
		return fs.add(blk, count)
	}
	for i := uint64(0); i < n; {
		c := fs.buf[i/8]
		if i%8 == 0 && i+8 <= n && (c == 0 || c == 0xff) {
			if c == 0xff && !inRun {
				runStart, inRun = i, true
			} else if c == 0 {
				if err := flush(i); err != nil {
					return err
				}
			}
			i += 8
			continue
		}
		if c&(1<<(i%8)) != 0 {
			if !inRun {
				runStart, inRun = i, true
			}
		} else if err := flush(i); err != nil {
			return err
		}
		i++
	}
	return flush(n)
}
