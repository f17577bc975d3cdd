package image

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockDevice reports whether f is a block device.
func blockDevice(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
}

// blockDevSize asks the kernel for a block device's size (BLKGETSIZE64).
func blockDevSize(f *os.File) (int64, error) {
	var size uint64
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
	if e != 0 {
		return 0, &os.PathError{Op: "BLKGETSIZE64", Path: f.Name(), Err: e}
	}
	return int64(size), nil
}

// blockDevSectorSize returns a block device's logical sector size.
func blockDevSectorSize(f *os.File) uint32 {
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil || n < 512 || n&(n-1) != 0 {
		return 512
	}
	return uint32(n)
}

// dataExtents lists the parts of a regular file that hold data, skipping
// holes with SEEK_DATA/SEEK_HOLE. ok is false when the filesystem cannot
// tell, and then the whole file must be read.
func dataExtents(f *os.File, size int64) (ext []Range, ok bool) {
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			if errors.Is(err, unix.ENXIO) { // no data after off
				break
			}
			return nil, false
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil {
			return nil, false
		}
		h = min(h, size)
		if h > d {
			ext = append(ext, Range{Off: d, Len: h - d})
		}
		off = h
	}
	if ext == nil {
		ext = []Range{}
	}
	return ext, true
}

// zeroOutBlock makes a block device range read as zeros (BLKZEROOUT, which
// the kernel may turn into a discard or write-zeroes command).
func zeroOutBlock(f *os.File, off, n int64) error {
	r := [2]uint64{uint64(off), uint64(n)}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKZEROOUT, uintptr(unsafe.Pointer(&r)))
	if e != 0 {
		return &os.PathError{Op: "BLKZEROOUT", Path: f.Name(), Err: e}
	}
	return nil
}

// punchHole deallocates a regular file range, which then reads as zeros.
func punchHole(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err != nil {
		return &os.PathError{Op: "punch hole", Path: f.Name(), Err: err}
	}
	return nil
}
