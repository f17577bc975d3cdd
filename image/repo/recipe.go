package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/discuscast/discus/image"
)

// Hash is a block's SHA-256. The zero Hash stands for an all-zero block,
// which is never stored.
type Hash [32]byte

// zeroHash marks an all-zero block in a recipe.
var zeroHash Hash

// Recipe describes one image: the disk it is of, the ranges of it that are
// used (what an image of it holds), and the content hash of every block of
// the repository's block size that the used ranges touch, in disk order.
type Recipe struct {
	BlockSize  uint32
	TargetSize int64
	SectorSize uint32
	Created    time.Time
	Source     string // what the image was made from
	Base       string // the image named as its base when added (information only)
	Used       []image.Range
	Blocks     []Hash // one per block of usedBlocks(Used), in order

	delta *recipeDelta // how the blocks are stored, if as a delta
	chain []Hash       // the base recipe files a delta needed, nearest first
}

const (
	recipeMagic  = "DSRR"
	recipeFixed  = 36 // magic … created
	maxRanges    = 1 << 22
	maxSourceLen = image.MaxSourceLen
)

// usedBlocks calls fn with the number of every aligned block that a used
// range touches, ascending, each once. It stops at fn's first false.
func usedBlocks(used []image.Range, bs int64, fn func(k int64) bool) {
	next := int64(0) // first block number not yet reported
	for _, r := range used {
		first, last := r.Off/bs, (r.End()-1)/bs
		for k := max(first, next); k <= last; k++ {
			if !fn(k) {
				return
			}
		}
		next = max(next, last+1)
	}
}

// countBlocks is the number of blocks usedBlocks reports.
func countBlocks(used []image.Range, bs int64) int64 {
	var n, next int64
	for _, r := range used {
		first, last := max(r.Off/bs, next), (r.End()-1)/bs
		if last >= first {
			n += last - first + 1
		}
		next = max(next, last+1)
	}
	return n
}

func (r *Recipe) marshal() []byte {
	b := make([]byte, 0, recipeFixed+8+len(r.Source)+len(r.Base)+16*len(r.Used)+32*len(r.Blocks)+32)
	le := binary.LittleEndian
	b = append(b, recipeMagic...)
	b = append(b, Version, 0, 0, 0)
	b = le.AppendUint32(b, r.BlockSize)
	flags := uint32(0)
	if r.delta != nil {
		flags |= recipeFlagDelta
	}
	b = le.AppendUint32(b, flags)
	b = le.AppendUint64(b, uint64(r.TargetSize))
	b = le.AppendUint32(b, r.SectorSize)
	created := int64(0)
	if !r.Created.IsZero() {
		created = r.Created.UnixNano()
	}
	b = le.AppendUint64(b, uint64(created))
	b = le.AppendUint16(b, uint16(len(r.Source)))
	b = append(b, r.Source...)
	b = le.AppendUint16(b, uint16(len(r.Base)))
	b = append(b, r.Base...)
	b = le.AppendUint32(b, uint32(len(r.Used)))
	for _, u := range r.Used {
		b = le.AppendUint64(b, uint64(u.Off))
		b = le.AppendUint64(b, uint64(u.Len))
	}
	if r.delta != nil {
		b = le.AppendUint64(b, uint64(countBlocks(r.Used, int64(r.BlockSize))))
		b = r.delta.marshal(b)
	} else {
		b = le.AppendUint64(b, uint64(len(r.Blocks)))
		for _, h := range r.Blocks {
			b = append(b, h[:]...)
		}
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// parseRecipe decodes and checks a recipe file.
func parseRecipe(b []byte) (*Recipe, error) {
	le := binary.LittleEndian
	if len(b) < recipeFixed+2+2+4+8+32 {
		return nil, corrupt("recipe: %d bytes, too short", len(b))
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, corrupt("recipe: checksum mismatch")
	}
	if string(b[:4]) != recipeMagic {
		return nil, corrupt("recipe: bad magic")
	}
	if b[4] != Version {
		return nil, fmt.Errorf("repo: recipe version %d: %w", b[4], image.ErrVersion)
	}
	flags := le.Uint32(b[12:])
	if b[5]|b[6]|b[7] != 0 || flags&^recipeFlagDelta != 0 {
		return nil, corrupt("recipe: reserved bytes or flags set")
	}
	r := &Recipe{BlockSize: le.Uint32(b[8:]), TargetSize: int64(le.Uint64(b[16:])), SectorSize: le.Uint32(b[24:])}
	if created := int64(le.Uint64(b[28:])); created != 0 {
		r.Created = time.Unix(0, created).UTC()
	}
	if err := checkSizes(r.BlockSize, r.BlockSize); err != nil {
		return nil, corrupt("recipe: %v", err)
	}
	if r.TargetSize < 0 {
		return nil, corrupt("recipe: target size %d", r.TargetSize)
	}
	if r.SectorSize < 512 || r.SectorSize > 65536 || r.SectorSize&(r.SectorSize-1) != 0 {
		return nil, corrupt("recipe: sector size %d", r.SectorSize)
	}
	p := body[recipeFixed:]
	str := func(what string, limit int) (string, error) {
		if len(p) < 2 {
			return "", corrupt("recipe: truncated %s", what)
		}
		n := int(le.Uint16(p))
		if n > limit || len(p) < 2+n {
			return "", corrupt("recipe: %s of %d bytes", what, n)
		}
		s := string(p[2 : 2+n])
		p = p[2+n:]
		return s, nil
	}
	var err error
	if r.Source, err = str("source", maxSourceLen); err != nil {
		return nil, err
	}
	if r.Base, err = str("base", MaxNameLen); err != nil {
		return nil, err
	}
	if r.Base != "" {
		if err := CheckName(r.Base); err != nil {
			return nil, corrupt("recipe: base: %v", err)
		}
	}
	if len(p) < 4 {
		return nil, corrupt("recipe: truncated range count")
	}
	nr := le.Uint32(p)
	p = p[4:]
	if nr > maxRanges || uint64(len(p)) < uint64(nr)*16+8 {
		return nil, corrupt("recipe: %d ranges do not fit", nr)
	}
	r.Used = make([]image.Range, nr)
	prev := int64(0)
	for i := range r.Used {
		off, n := int64(le.Uint64(p)), int64(le.Uint64(p[8:]))
		p = p[16:]
		if off < prev || n <= 0 || off > r.TargetSize-n {
			return nil, corrupt("recipe: range %d (%d+%d) unordered or outside the %d-byte target", i, off, n, r.TargetSize)
		}
		r.Used[i] = image.Range{Off: off, Len: n}
		prev = off + n
	}
	nb := le.Uint64(p)
	p = p[8:]
	want := countBlocks(r.Used, int64(r.BlockSize))
	if flags&recipeFlagDelta != 0 {
		if nb != uint64(want) {
			return nil, corrupt("recipe: %d blocks, the used ranges need %d", nb, want)
		}
		// The blocks are resolved against the base recipe (Repo.readRecipe).
		r.delta, err = parseDelta(p, nb)
		return r, err
	}
	if nb != uint64(want) || uint64(len(p)) != nb*32 {
		return nil, corrupt("recipe: %d block hashes in %d bytes, the used ranges need %d", nb, len(p), want)
	}
	r.Blocks = make([]Hash, nb)
	for i := range r.Blocks {
		copy(r.Blocks[i][:], p[32*i:])
	}
	return r, nil
}

// UsedBytes is the sum of the used ranges' lengths.
func (r *Recipe) UsedBytes() int64 {
	var n int64
	for _, u := range r.Used {
		n += u.Len
	}
	return n
}
