package fsmap

import (
	"io"
	"strings"
)

// Detect names the filesystem that starts at byte 0 of r (size bytes):
// "ext4", "xfs", "ntfs", "vfat", "swap"..., several joined with "+" when
// more than one signature matches, "" when none does. It reads only the
// superblocks, so it works on a filesystem larger than r (one whose
// partition was just shrunk).
func Detect(r io.ReaderAt, size int64) string {
	var names []string
	for _, fr := range readers {
		if safeProbe(fr, r, size) {
			names = append(names, fr.name)
		}
	}
	return strings.Join(names, "+")
}
