package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// A pack file holds unique blocks grouped into frames: each frame is the
// concatenation of up to FrameSize/BlockSize blocks, compressed as one
// zstd frame (codec 1) or stored as is when it does not shrink (codec 0).
// Compressing frames rather than single blocks keeps zstd's ratio close to
// that of an image's 1 MiB chunks; a reader decompresses one frame to get
// one block and caches a few.
const (
	packMagic    = "DSRP"
	packIdxMagic = "DSPI"
	packTrMagic  = "DSPT"
	packHeadLen  = 12
	packTrLen    = 56
	frameEntLen  = 20
	blockEntLen  = 36
	codecNone    = 0
	codecZstd    = 1
)

// frame is one frame of a pack as its index describes it.
type frame struct {
	Off    int64
	Stored uint32
	Raw    uint32
	Codec  uint8
	Blocks []Hash
	Lens   []uint32
}

// blockLoc says where one unique block lives.
type blockLoc struct {
	pack  uint32 // position in catalog.Packs
	frame uint32 // position in the pack's frames
	off   uint32 // within the uncompressed frame
	len   uint32
}

func packName(id uint64) string { return fmt.Sprintf("%016x.pack", id) }

func marshalPackIndex(frames []frame) []byte {
	le := binary.LittleEndian
	b := append([]byte(packIdxMagic), Version, 0, 0, 0)
	b = le.AppendUint32(b, uint32(len(frames)))
	for _, f := range frames {
		b = le.AppendUint64(b, uint64(f.Off))
		b = le.AppendUint32(b, f.Stored)
		b = le.AppendUint32(b, f.Raw)
		b = append(b, f.Codec, 0)
		b = le.AppendUint16(b, uint16(len(f.Blocks)))
		for i, h := range f.Blocks {
			b = append(b, h[:]...)
			b = le.AppendUint32(b, f.Lens[i])
		}
	}
	return b
}

// parsePackIndex decodes a pack's index and checks it against the pack's
// geometry: frames lie in order between the pack header and the index
// (at indexOff), every block length is 1..blockSize and a frame's add up
// to its raw length, at most frameSize.
func parsePackIndex(b []byte, indexOff int64, blockSize, frameSize uint32) ([]frame, error) {
	le := binary.LittleEndian
	if len(b) < 12 || string(b[:4]) != packIdxMagic {
		return nil, corrupt("pack index: bad magic")
	}
	if b[4] != Version || b[5]|b[6]|b[7] != 0 {
		return nil, corrupt("pack index: version %d or reserved bytes", b[4])
	}
	nf := le.Uint32(b[8:])
	p := b[12:]
	if uint64(nf)*(frameEntLen+blockEntLen) > uint64(len(p)) {
		return nil, corrupt("pack index: %d frames do not fit", nf)
	}
	frames := make([]frame, 0, nf)
	next := int64(packHeadLen)
	for i := range nf {
		if len(p) < frameEntLen {
			return nil, corrupt("pack index: truncated frame %d", i)
		}
		f := frame{Off: int64(le.Uint64(p)), Stored: le.Uint32(p[8:]), Raw: le.Uint32(p[12:]), Codec: p[16]}
		n, reserved := int(le.Uint16(p[18:])), p[17]
		p = p[frameEntLen:]
		switch {
		case f.Off != next:
			return nil, corrupt("pack index: frame %d at %d, want %d", i, f.Off, next)
		case f.Stored == 0 || int64(f.Stored) > indexOff-f.Off:
			return nil, corrupt("pack index: frame %d of %d bytes overruns the frames", i, f.Stored)
		case f.Raw == 0 || f.Raw > frameSize:
			return nil, corrupt("pack index: frame %d raw length %d", i, f.Raw)
		case f.Codec > codecZstd || f.Codec == codecNone && f.Stored != f.Raw || f.Codec == codecZstd && f.Stored >= f.Raw:
			// A frame that did not shrink is stored raw, so a zstd frame
			// is always shorter than its content.
			return nil, corrupt("pack index: frame %d codec %d", i, f.Codec)
		case reserved != 0:
			return nil, corrupt("pack index: frame %d reserved byte", i)
		case n == 0 || len(p) < n*blockEntLen:
			return nil, corrupt("pack index: frame %d lists %d blocks", i, n)
		}
		f.Blocks, f.Lens = make([]Hash, n), make([]uint32, n)
		sum := uint64(0)
		for j := range n {
			copy(f.Blocks[j][:], p)
			f.Lens[j] = le.Uint32(p[32:])
			p = p[blockEntLen:]
			if f.Lens[j] == 0 || f.Lens[j] > blockSize || f.Blocks[j] == zeroHash {
				return nil, corrupt("pack index: frame %d block %d length %d", i, j, f.Lens[j])
			}
			sum += uint64(f.Lens[j])
		}
		if sum != uint64(f.Raw) {
			return nil, corrupt("pack index: frame %d blocks add up to %d, not %d", i, sum, f.Raw)
		}
		next = f.Off + int64(f.Stored)
		frames = append(frames, f)
	}
	if len(p) != 0 {
		return nil, corrupt("pack index: %d trailing bytes", len(p))
	}
	if next != indexOff {
		return nil, corrupt("pack index: frames end at %d, index starts at %d", next, indexOff)
	}
	return frames, nil
}

// packHeader is the first packHeadLen bytes of a pack file.
func packHeader(blockSize uint32) []byte {
	b := append([]byte(packMagic), Version, 0, 0, 0)
	return binary.LittleEndian.AppendUint32(b, blockSize)
}

func packTrailer(indexOff int64, index []byte) []byte {
	le := binary.LittleEndian
	b := append([]byte(packTrMagic), Version, 0, 0, 0)
	b = le.AppendUint64(b, uint64(indexOff))
	b = le.AppendUint64(b, uint64(len(index)))
	sum := sha256.Sum256(index)
	return append(b, sum[:]...)
}

// openPack opens a pack file and checks it against its catalog entry:
// size, the SHA-256 of its index, the header and the index's geometry.
func openPack(path string, ref packRef, blockSize, frameSize uint32) (*os.File, []frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	frames, err := readPack(f, ref, blockSize, frameSize)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, frames, nil
}

func readPack(f io.ReaderAt, ref packRef, blockSize, frameSize uint32) ([]frame, error) {
	le := binary.LittleEndian
	size := int64(ref.Size)
	if st, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		fi, err := st.Stat()
		if err != nil {
			return nil, err
		}
		if fi.Size() != size {
			return nil, corrupt("pack %d: %d bytes, the catalog says %d", ref.ID, fi.Size(), size)
		}
	}
	if size < packHeadLen+packTrLen {
		return nil, corrupt("pack %d: %d bytes, too short", ref.ID, size)
	}
	head := make([]byte, packHeadLen)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, err
	}
	if !bytes.Equal(head, packHeader(blockSize)) {
		return nil, corrupt("pack %d: bad header", ref.ID)
	}
	tr := make([]byte, packTrLen)
	if _, err := f.ReadAt(tr, size-packTrLen); err != nil {
		return nil, err
	}
	if string(tr[:4]) != packTrMagic || tr[4] != Version || tr[5]|tr[6]|tr[7] != 0 {
		return nil, corrupt("pack %d: bad trailer", ref.ID)
	}
	idxOff, idxLen := int64(le.Uint64(tr[8:])), int64(le.Uint64(tr[16:]))
	if idxOff < packHeadLen || idxLen < 0 || idxOff > size-packTrLen || idxLen != size-packTrLen-idxOff {
		return nil, corrupt("pack %d: index at %d+%d does not fit", ref.ID, idxOff, idxLen)
	}
	idx := make([]byte, idxLen)
	if _, err := f.ReadAt(idx, idxOff); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(idx)
	if !bytes.Equal(sum[:], tr[24:56]) || sum != ref.IndexHash {
		return nil, corrupt("pack %d: index checksum mismatch", ref.ID)
	}
	return parsePackIndex(idx, idxOff, blockSize, frameSize)
}
