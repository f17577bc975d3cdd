package fsmap

import (
	"bytes"
	"errors"
	"io"

	"github.com/discuscast/discus/image"
)

// Linux swap: the header page (boot block, version, size, bad-page list,
// UUID, label) ends with the "SWAPSPACE2" signature. Swapped-out pages are
// worthless once the machine that wrote them is off, so only the header
// page is kept. A hibernation image replaces the signature (S1SUSPEND...),
// so such a partition is not recognised and is kept whole.
var swapPageSizes = []int64{4096, 8192, 16384, 65536}

func init() { register(fsReader{name: "swap", probe: swapProbe, used: swapUsed}) }

// swapPageSize returns the page size whose last ten bytes hold the
// signature, or 0.
func swapPageSize(r io.ReaderAt, size int64) int64 {
	sig := make([]byte, 10)
	for _, ps := range swapPageSizes {
		if ps > size {
			break
		}
		if _, err := r.ReadAt(sig, ps-10); err != nil {
			return 0
		}
		if bytes.Equal(sig, []byte("SWAPSPACE2")) {
			return ps
		}
	}
	return 0
}

func swapProbe(r io.ReaderAt, size int64) bool { return swapPageSize(r, size) != 0 }

func swapUsed(r io.ReaderAt, size int64) ([]image.Range, error) {
	ps := swapPageSize(r, size)
	if ps == 0 {
		return nil, errSwap
	}
	return []image.Range{{Off: 0, Len: ps}}, nil
}

var errSwap = errors.New("swap: signature vanished")
