package fsmap

import (
	"encoding/binary"
	"fmt"
)

// Walking one inode's block map, used for the journal (inode 8): extent
// trees (ext4) and direct/indirect blocks (ext2/3). The journal's blocks are
// normally allocated in the bitmaps already; walking them is belt and
// braces for the one structure a mount replays from. Every block read is
// bounds-checked and charged to a budget, so a looping or huge tree ends in
// an error instead of a hang.

// addInode adds the blocks of inode ino (data and the extent tree or
// indirect blocks that map it).
func (fs *extFS) addInode(ino uint64) error {
	s := fs.s
	if ino == 0 || ino > s.groups*s.inodesPerGroup {
		return fmt.Errorf("%w: inode %d", errExt, ino)
	}
	g, idx := (ino-1)/s.inodesPerGroup, (ino-1)%s.inodesPerGroup
	d, err := fs.desc(g)
	if err != nil {
		return err
	}
	off := idx * s.inodeSize
	blk := d.inodeTable + off/uint64(s.blockSize)
	if err := fs.readBlock(blk, fs.buf); err != nil {
		return err
	}
	inode := append([]byte(nil), fs.buf[off%uint64(s.blockSize):][:s.inodeSize]...)
	iblock := inode[40:100]
	if binary.LittleEndian.Uint32(inode[32:])&extInodeExtents != 0 {
		return fs.addExtents(iblock, -1)
	}
	le := binary.LittleEndian
	for i := range 12 {
		if p := uint64(le.Uint32(iblock[4*i:])); p != 0 {
			if err := fs.add(p, 1); err != nil {
				return err
			}
		}
	}
	for level := 1; level <= 3; level++ {
		if p := uint64(le.Uint32(iblock[4*(11+level):])); p != 0 {
			if err := fs.addIndirect(p, level); err != nil {
				return err
			}
		}
	}
	return nil
}

func (fs *extFS) spend() error {
	if fs.budget--; fs.budget < 0 {
		return fmt.Errorf("%w: block map too large", errExt)
	}
	return nil
}

func (fs *extFS) addIndirect(blk uint64, level int) error {
	if err := fs.spend(); err != nil {
		return err
	}
	if err := fs.add(blk, 1); err != nil {
		return err
	}
	b := make([]byte, fs.s.blockSize)
	if err := fs.readBlock(blk, b); err != nil {
		return err
	}
	for i := 0; i+4 <= len(b); i += 4 {
		p := uint64(binary.LittleEndian.Uint32(b[i:]))
		if p == 0 {
			continue
		}
		var err error
		if level == 1 {
			err = fs.add(p, 1)
		} else {
			err = fs.addIndirect(p, level-1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addExtents walks an extent tree node (the inode's i_block or a tree
// block). wantDepth is the depth the parent expects, -1 at the root.
func (fs *extFS) addExtents(node []byte, wantDepth int) error {
	le := binary.LittleEndian
	if len(node) < 12 || le.Uint16(node) != 0xf30a {
		return fmt.Errorf("%w: extent header", errExt)
	}
	entries, depth := int(le.Uint16(node[2:])), int(le.Uint16(node[6:]))
	if depth > 5 || (wantDepth >= 0 && depth != wantDepth) || 12+12*entries > len(node) {
		return fmt.Errorf("%w: extent node (depth %d, %d entries)", errExt, depth, entries)
	}
	for i := range entries {
		e := node[12+12*i:]
		if depth == 0 {
			n := uint64(le.Uint16(e[4:]))
			if n > 32768 {
				n -= 32768 // unwritten extent: still allocated
			}
			start := uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:]))
			if err := fs.add(start, n); err != nil {
				return err
			}
			continue
		}
		if err := fs.spend(); err != nil {
			return err
		}
		leaf := uint64(le.Uint32(e[4:])) | uint64(le.Uint16(e[8:]))<<32
		if err := fs.add(leaf, 1); err != nil {
			return err
		}
		b := make([]byte, fs.s.blockSize)
		if err := fs.readBlock(leaf, b); err != nil {
			return err
		}
		if err := fs.addExtents(b, depth-1); err != nil {
			return err
		}
	}
	return nil
}
