package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/discuscast/discus/image"
)

// Version is the repository format version written and read.
const Version = 1

// Limits of the format (docs/FORMAT.md, "Partition repository").
const (
	DefaultBlockSize = 16 << 10
	MinBlockSize     = 4 << 10
	MaxBlockSize     = 1 << 20
	DefaultFrameSize = 4 << 20 // uncompressed bytes per zstd frame of a pack (1 MiB: 6 % larger packs)
	MaxFrameSize     = 16 << 20
	MaxNameLen       = 64
	maxPacks         = 1 << 20
	maxImages        = 1 << 16
)

var (
	// ErrExists is returned by Add for a name already in the repository.
	ErrExists = errors.New("repo: an image of that name exists")
	// ErrNotFound is returned for a name the repository does not hold.
	ErrNotFound = errors.New("repo: no image of that name")
	// ErrNotRepo is returned by Open for a directory without a catalog.
	ErrNotRepo = errors.New("repo: not a repository (no catalog)")
)

// corrupt wraps image.ErrCorrupt, so that a damaged repository exits as a
// failed verification (internal/cli) and errors.Is finds it.
func corrupt(format string, a ...any) error {
	return fmt.Errorf("repo: %w: %s", image.ErrCorrupt, fmt.Sprintf(format, a...))
}

// packRef is a catalog entry naming one pack file.
type packRef struct {
	ID        uint64
	Size      uint64   // bytes of the pack file
	IndexHash [32]byte // SHA-256 of its index
}

// imageRef is a catalog entry naming one image's recipe.
type imageRef struct {
	Name       string
	RecipeHash [32]byte // SHA-256 of the recipe file (also its file name)
	RecipeSize uint64
}

// catalog is the repository's commit point.
type catalog struct {
	BlockSize  uint32
	FrameSize  uint32
	Generation uint64 // incremented by every commit
	NextPack   uint64
	Packs      []packRef
	Images     []imageRef
}

const (
	catalogMagic  = "DSRC"
	catalogFixed  = 40 // magic … image count
	packRefLen    = 48
	catalogSumLen = 32
)

func (c *catalog) marshal() []byte {
	b := make([]byte, 0, catalogFixed+len(c.Packs)*packRefLen+len(c.Images)*(42+MaxNameLen)+catalogSumLen)
	b = append(b, catalogMagic...)
	b = append(b, Version, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, c.BlockSize)
	b = binary.LittleEndian.AppendUint32(b, c.FrameSize)
	b = binary.LittleEndian.AppendUint64(b, c.Generation)
	b = binary.LittleEndian.AppendUint64(b, c.NextPack)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Packs)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.Images)))
	for _, p := range c.Packs {
		b = binary.LittleEndian.AppendUint64(b, p.ID)
		b = binary.LittleEndian.AppendUint64(b, p.Size)
		b = append(b, p.IndexHash[:]...)
	}
	for _, im := range c.Images {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(im.Name)))
		b = append(b, im.Name...)
		b = append(b, im.RecipeHash[:]...)
		b = binary.LittleEndian.AppendUint64(b, im.RecipeSize)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// parseCatalog decodes and checks a catalog file.
func parseCatalog(b []byte) (*catalog, error) {
	if len(b) < catalogFixed+catalogSumLen {
		return nil, corrupt("catalog: %d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-catalogSumLen], b[len(b)-catalogSumLen:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, corrupt("catalog: checksum mismatch")
	}
	if string(b[:4]) != catalogMagic {
		return nil, corrupt("catalog: bad magic")
	}
	if b[4] != Version {
		return nil, fmt.Errorf("repo: catalog version %d: %w", b[4], image.ErrVersion)
	}
	if b[5]|b[6]|b[7] != 0 {
		return nil, corrupt("catalog: reserved bytes set")
	}
	le := binary.LittleEndian
	c := &catalog{
		BlockSize:  le.Uint32(b[8:]),
		FrameSize:  le.Uint32(b[12:]),
		Generation: le.Uint64(b[16:]),
		NextPack:   le.Uint64(b[24:]),
	}
	np, ni := le.Uint32(b[32:]), le.Uint32(b[36:])
	if err := checkSizes(c.BlockSize, c.FrameSize); err != nil {
		return nil, corrupt("catalog: %v", err)
	}
	if np > maxPacks || ni > maxImages {
		return nil, corrupt("catalog: %d packs, %d images: too many", np, ni)
	}
	r := body[catalogFixed:]
	if uint64(len(r)) < uint64(np)*packRefLen {
		return nil, corrupt("catalog: truncated pack list")
	}
	seen := map[uint64]bool{}
	for range np {
		p := packRef{ID: le.Uint64(r), Size: le.Uint64(r[8:])}
		copy(p.IndexHash[:], r[16:48])
		r = r[packRefLen:]
		if seen[p.ID] || p.ID >= c.NextPack {
			return nil, corrupt("catalog: pack %d repeated or not below next pack %d", p.ID, c.NextPack)
		}
		seen[p.ID] = true
		c.Packs = append(c.Packs, p)
	}
	names := map[string]bool{}
	for range ni {
		if len(r) < 2 {
			return nil, corrupt("catalog: truncated image list")
		}
		n := int(le.Uint16(r))
		if len(r) < 2+n+40 {
			return nil, corrupt("catalog: truncated image entry")
		}
		im := imageRef{Name: string(r[2 : 2+n])}
		copy(im.RecipeHash[:], r[2+n:])
		im.RecipeSize = le.Uint64(r[2+n+32:])
		r = r[2+n+40:]
		if err := CheckName(im.Name); err != nil {
			return nil, corrupt("catalog: %v", err)
		}
		if names[im.Name] {
			return nil, corrupt("catalog: image %q listed twice", im.Name)
		}
		names[im.Name] = true
		c.Images = append(c.Images, im)
	}
	if len(r) != 0 {
		return nil, corrupt("catalog: %d trailing bytes", len(r))
	}
	return c, nil
}

func checkSizes(blockSize, frameSize uint32) error {
	if blockSize < MinBlockSize || blockSize > MaxBlockSize || blockSize&(blockSize-1) != 0 {
		return fmt.Errorf("block size %d: not a power of two in %d..%d", blockSize, MinBlockSize, MaxBlockSize)
	}
	if frameSize < blockSize || frameSize > MaxFrameSize || frameSize%blockSize != 0 {
		return fmt.Errorf("frame size %d: not a multiple of the block size up to %d", frameSize, MaxFrameSize)
	}
	return nil
}

// CheckName accepts image names of 1..64 letters, digits, '.', '_', '-',
// not starting with '.' or '-' (they become no file names, but show in
// listings and on command lines).
func CheckName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return fmt.Errorf("image name %q: want 1..%d characters", name, MaxNameLen)
	}
	for i, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			(c == '.' || c == '-') && i > 0
		if !ok {
			return fmt.Errorf("image name %q: only letters, digits, '.', '_' and '-' (not first)", name)
		}
	}
	return nil
}

func (c *catalog) image(name string) (int, bool) {
	for i, im := range c.Images {
		if im.Name == name {
			return i, true
		}
	}
	return -1, false
}

func (c *catalog) clone() *catalog {
	n := *c
	n.Packs = append([]packRef(nil), c.Packs...)
	n.Images = append([]imageRef(nil), c.Images...)
	return &n
}
