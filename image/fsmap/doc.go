// Package fsmap finds the bytes of a disk that matter: it reads partition
// tables and filesystem metadata and returns the ranges in use, so that an
// image skips free space.
//
// Free space is rarely empty: it holds whatever files used to be there,
// which costs as much to compress and send as live data. A filesystem knows
// exactly which of its blocks are free, so asking it (as Frisbee did) makes
// images far smaller and faster to make and install.
//
// # Using it
//
// [Scan] takes the disk as an [io.ReaderAt] and its size, and returns a
// [Map]: the sorted, merged byte ranges to keep and, per partition, what was
// found and how much is kept. An image creator copies Map.Used and nothing
// else; a receiver that writes those ranges onto any disk gets filesystems
// that mount and fsck clean with every file intact. Dropped bytes are not
// zeroed on the target: they are free, so their content does not matter.
//
// [OpenSource] does the usual whole job from a path: it opens the source
// (image.OpenSource) and scans it unless it is a stream or the caller
// wants every byte; [ScanImage] reads the same map back from an image
// file's own chunks. mcimage and mcsend are thin wrappers around both.
//
// # What is read
//
// Scan looks for, in this order:
//
//   - a GPT: a protective MBR (an entry of type 0xEE) and a header in LBA 1
//     with valid CRC32s, trying 512- and 4096-byte sectors, and the backup
//     header in the last LBA when the primary is damaged;
//   - an MBR: four primary entries and the EBR chain of an extended
//     partition (logical partitions are numbered from 5, as Linux does);
//   - a bare filesystem (no partition table) starting at byte 0;
//   - otherwise the disk is unknown and kept whole.
//
// Each partition is offered to every filesystem reader:
//
//   - ext2/3/4: the block bitmap of every group (bits are clusters with
//     bigalloc), with descriptors of any s_desc_size and 64-bit block
//     numbers, flex_bg, meta_bg and sparse_super/sparse_super2 layouts.
//     Groups flagged BLOCK_UNINIT (honoured only with group descriptor
//     checksums, as the kernel does) keep just their metadata. Superblock
//     copies, descriptors, reserved GDT blocks, bitmaps, inode tables, the
//     journal inode's blocks and the MMP block are always kept.
//   - FAT12/16/32: the reserved area, every FAT, the FAT12/16 root directory
//     and each cluster with a non-zero FAT entry.
//   - NTFS: the clusters set in $Bitmap, found through $MFT, plus the boot
//     sector, its backup, $MFT and $MFTMirr.
//   - XFS: everything outside the free extents of each allocation group's
//     by-block-number free space B+tree (v4 and v5 formats).
//   - Linux swap: the header page only ("SWAPSPACE2"); swapped-out pages are
//     worthless once the machine is off. A hibernation image has another
//     signature and is kept whole.
//
// # Safety first
//
// Dropping a used block corrupts a disk; keeping a free one only costs
// space. So everything Scan does not understand is kept: boot code and all
// that precedes the first partition, partition tables (every EBR, both
// GPTs), bytes past a filesystem's end, partitions of unknown type (the
// image creator still skips blocks that are all zeros). The one thing
// outside filesystems that is dropped is unallocated space (between
// partitions, after the last one, inside an extended partition): no table
// lets anything own it, so it is free (Map.Gaps; Options.KeepGaps keeps
// it). A filesystem whose metadata is inconsistent (a size larger
// than its partition, pointers past its end, loops) is kept whole, with
// Partition.Warning set and a warning logged; a reader that panicked is
// treated the same way. When two readers recognise the same partition (a
// stale signature from an older filesystem), the union of their maps is
// kept. Every reader is fuzzed and bounds what it allocates from on-disk
// counts.
//
// Scan trusts the metadata it reads: the filesystem must not be mounted
// read-write while it is scanned and copied. An ext filesystem whose
// journal needs recovery (not cleanly unmounted) is kept whole, since its
// bitmaps lag the journal; run fsck or mount and unmount it first to get
// the smaller image.
package fsmap
