// Package layout makes an installed disk image fit the disk it was
// installed on. Lab machines' disks rarely match the master's: a GPT
// copied onto a larger disk has its backup header and table in the middle
// of the disk (sgdisk -v: "the secondary header's self-pointer indicates
// that it doesn't reside at the end of the disk"), and firmware or tools
// that check it complain or "repair" it their own way; a smaller disk
// cannot hold the backup at all.
//
// [Fit] rewrites the tables for the target's size, on an [io.ReaderAt] and
// [io.WriterAt] (the target, after installation):
//
//   - GPT: the backup entry array and backup header move to the target's
//     end, the primary header's alternate LBA and last usable LBA follow,
//     every CRC is recomputed, and the protective MBR's 0xEE entry covers
//     the new size.
//   - with Config.Grow, the partition that ends last is enlarged to the
//     last usable sector (GPT) or the disk's end (MBR, including a last
//     logical partition and its extended container).
//   - a target smaller than the image: the partition that ends last is
//     shrunk to fit when it reaches past the new end, which is only right
//     when its filesystem is shrunk too (Result.NeedFS) and none of its used
//     blocks lies past the new end ([CheckFits], or Clip's Dropped for data
//     a receiver could not check ahead); anything else is refused with an
//     error naming what does not fit.
//
// [ResizeFS] then resizes the filesystem of the partition Fit changed with
// the system's own tools — resize2fs (ext2/3/4), xfs_growfs (XFS, mounted
// on a temporary directory; XFS cannot shrink), ntfsresize (NTFS) — through
// a loop device over the partition, and says plainly when a tool is not
// installed. [FitPath] does both for a target path, as mcimage extract and
// mcrecv call it.
//
// Fit trusts only a GPT whose header and entry-array CRCs check; a disk
// with no table it knows is left alone (Result.Scheme "").
package layout
