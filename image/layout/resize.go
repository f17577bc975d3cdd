package layout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
)

// FSResult says what ResizeFS did with the filesystem of the partition
// Fit resized.
type FSResult struct {
	FS      string // filesystem found ("ext4", "xfs", "ntfs", ...; "" none known)
	Resized bool   // the filesystem now fills its partition
	Note    string // when not Resized: why, in words for the operator
}

// ErrNoShrink is wrapped by ResizeFS's error when a partition was shrunk
// but its filesystem cannot be: the disk is not usable as it is. It wraps
// image.ErrTargetTooSmall (the target was too small after all).
var ErrNoShrink = fmt.Errorf("%w: the filesystem cannot be shrunk to its partition", image.ErrTargetTooSmall)

// tool is a resizer's program, looked up on PATH.
func tool(name string) (string, bool) {
	p, err := exec.LookPath(name)
	return p, err == nil
}

func runTool(ctx context.Context, stdin string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ResizeFS makes the filesystem of the partition res.Resized (Fit's) on the
// target path fill that partition, with the system's tools on a loop device
// over the partition: resize2fs (ext2/3/4, after e2fsck -f), xfs_growfs on
// a temporary mount (XFS grows only), ntfsresize (NTFS), mkswap keeping
// the UUID and label (swap). A missing tool or an unknown filesystem on a
// grown partition is no error (the filesystem keeps its size inside a
// larger partition, which is valid): Note says so. On a shrunk partition
// it is ErrNoShrink, since a filesystem larger than its partition is
// broken. Needs root (loop devices, mount).
func ResizeFS(ctx context.Context, path string, res *Result) (FSResult, error) {
	var fr FSResult
	rp := res.Resized
	if rp == nil {
		return fr, nil
	}
	shrink := rp.Shrunk()
	fail := func(note string) (FSResult, error) {
		fr.Note = note
		if shrink {
			return fr, fmt.Errorf("%w: partition %d: %s", ErrNoShrink, rp.Index, note)
		}
		return fr, nil
	}
	losetup, ok := tool("losetup")
	if !ok {
		return fail("losetup not installed (util-linux): the filesystem was not resized")
	}
	out, err := exec.CommandContext(ctx, losetup, "--find", "--show", "--offset", strconv.FormatInt(rp.Start, 10),
		"--sizelimit", strconv.FormatInt(rp.NewSize, 10), path).Output()
	if err != nil {
		return fail(fmt.Sprintf("no loop device over the partition (%v): the filesystem was not resized", err))
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command(losetup, "-d", dev).Run()
	f, err := os.Open(dev)
	if err != nil {
		return fail(fmt.Sprintf("%s: %v", dev, err))
	}
	fr.FS = fsmap.Detect(f, rp.NewSize)
	swapID := swapIdentity(f)
	f.Close()
	switch fr.FS {
	case "ext2", "ext3", "ext4":
		if !has("resize2fs", "e2fsck") {
			return fail(fmt.Sprintf("resize2fs not installed (e2fsprogs): the %s filesystem keeps its size", fr.FS))
		}
		if !shrink {
			// resize2fs wants a checked filesystem; e2fsck exits 1 when
			// it fixed something, which is fine.
			if err := runTool(ctx, "", "e2fsck", "-f", "-p", dev); err != nil && exitCode(err) > 1 {
				return fail(fmt.Sprintf("e2fsck before growing: %v", err))
			}
		}
		// On a shrunk partition e2fsck refuses a filesystem larger than its
		// device, so resize2fs is forced; Fit made sure no used block lies
		// past the new end.
		args := []string{dev}
		if shrink {
			args = []string{"-f", dev}
		}
		if err := runTool(ctx, "", "resize2fs", args...); err != nil {
			return fail(err.Error())
		}
	case "xfs":
		if shrink {
			return fail("XFS cannot shrink")
		}
		if !has("xfs_growfs") {
			return fail("xfs_growfs not installed (xfsprogs): the XFS filesystem keeps its size")
		}
		// nouuid: the master's own XFS (same UUID) may be mounted here.
		dir, err := os.MkdirTemp("", "discus-grow-*")
		if err != nil {
			return fail(err.Error())
		}
		defer os.Remove(dir)
		if err := runTool(ctx, "", "mount", "-t", "xfs", "-o", "nouuid", dev, dir); err != nil {
			return fail(fmt.Sprintf("mounting to grow: %v", err))
		}
		gerr := runTool(ctx, "", "xfs_growfs", dir)
		if err := runTool(context.WithoutCancel(ctx), "", "umount", dir); err != nil && gerr == nil {
			gerr = err
		}
		if gerr != nil {
			return fail(gerr.Error())
		}
	case "ntfs":
		if !has("ntfsresize") {
			return fail("ntfsresize not installed (ntfs-3g): the NTFS filesystem keeps its size")
		}
		if err := runTool(ctx, "y\n", "ntfsresize", "--force", "--no-progress-bar", dev); err != nil {
			return fail(err.Error())
		}
	case "swap":
		if !has("mkswap") {
			return fail("mkswap not installed: the swap area keeps its size")
		}
		args := []string{"-U", swapID.uuid}
		if swapID.label != "" {
			args = append(args, "-L", swapID.label)
		}
		if err := runTool(ctx, "", "mkswap", append(args, dev)...); err != nil {
			return fail(err.Error())
		}
	case "":
		return fail("no filesystem Discus knows: left at its size")
	default:
		return fail(fmt.Sprintf("no tool resizes %s here: the filesystem keeps its size", fr.FS))
	}
	fr.Resized = true
	return fr, nil
}

func has(names ...string) bool {
	for _, n := range names {
		if _, ok := tool(n); !ok {
			return false
		}
	}
	return true
}

func exitCode(err error) int {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	return -1
}

type swapID struct{ uuid, label string }

// swapIdentity reads a swap area's UUID and label (swap header v1: UUID
// at byte 1036, label at 1052), which mkswap must keep: fstab names swap
// by them.
func swapIdentity(r io.ReaderAt) swapID {
	b := make([]byte, 32)
	if _, err := r.ReadAt(b, 1036); err != nil {
		return swapID{}
	}
	u := b[:16]
	id := swapID{uuid: fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])}
	id.label = string(bytes.TrimRight(b[16:32], "\x00"))
	return id
}

// FitPath fixes the tables of the installed target at path (a block device
// or a file) for its size, as Fit does, then with cfg.Grow, or when a
// partition had to shrink, resizes its filesystem (ResizeFS). imageSize is
// the image's Header.TargetSize. Call it once the installer is closed.
func FitPath(ctx context.Context, path string, imageSize int64, cfg Config) (*Result, FSResult, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, FSResult{}, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, FSResult{}, err
	}
	res, err := Fit(f, imageSize, size, cfg)
	if err == nil {
		err = f.Sync()
	}
	if err == nil && res.Moved || res != nil && res.Resized != nil {
		// A whole disk's partitions as the kernel sees them; fails
		// harmlessly (EINVAL) on a loop device without partitions, a file.
		unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, FSResult{}, fmt.Errorf("%s: %w", path, err)
	}
	if res.Resized == nil {
		return res, FSResult{}, nil
	}
	fr, err := ResizeFS(ctx, path, res)
	return res, fr, err
}
