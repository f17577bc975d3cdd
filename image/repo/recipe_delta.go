package repo

import (
	"encoding/binary"

	"github.com/discuscast/discus/image"
)

// A recipe added with a base is stored as a delta against the base's
// recipe: runs of blocks whose hash is the base's at the same block
// number, and the other hashes literally. A localized copy of a 200 MB
// system then costs 3 KB of recipe (mostly its used ranges) instead of 32
// bytes per block (0.38 MB at 16 KiB), which was most of its cost in the
// repository. The delta names the base recipe by its SHA-256 (the file
// images/HASH.rcp), so removing the base image keeps its recipe file as
// long as a delta needs it (GC follows the chain).

// recipeFlagDelta is recipe flag bit 0: the block list is a delta.
const recipeFlagDelta = 1

// maxDeltaDepth bounds a chain of delta recipes (a delta of a delta …):
// deeper images are stored with a full block list.
const maxDeltaDepth = 16

// run is one step of a delta: Copy blocks as in the base, then Lit
// blocks given literally.
type run struct{ Copy, Lit uint32 }

// recipeDelta is a delta block list as stored.
type recipeDelta struct {
	Base Hash // SHA-256 of the base recipe file
	Runs []run
	Lits []Hash
}

// makeDelta encodes blocks (of used ranges used) against the base
// recipe's resolved blocks.
func makeDelta(used []image.Range, blocks []Hash, base *Recipe, baseHash Hash) *recipeDelta {
	bs := int64(base.BlockSize)
	bn := blockNumbers(base.Used, bs)
	d := &recipeDelta{Base: baseHash}
	var cur run
	j, i := 0, 0
	usedBlocks(used, bs, func(k int64) bool {
		for j < len(bn) && bn[j] < k {
			j++
		}
		same := j < len(bn) && bn[j] == k && base.Blocks[j] == blocks[i]
		if same {
			if cur.Lit > 0 {
				d.Runs = append(d.Runs, cur)
				cur = run{}
			}
			cur.Copy++
		} else {
			cur.Lit++
			d.Lits = append(d.Lits, blocks[i])
		}
		i++
		return true
	})
	if cur.Copy+cur.Lit > 0 {
		d.Runs = append(d.Runs, cur)
	}
	return d
}

// resolve computes the block list of a delta recipe with used ranges
// used from its base's resolved recipe.
func (d *recipeDelta) resolve(used []image.Range, n int64, base *Recipe) ([]Hash, error) {
	bs := int64(base.BlockSize)
	bn := blockNumbers(base.Used, bs)
	out := make([]Hash, 0, n)
	ri, left, lit := 0, uint32(0), 0
	copying := true
	if len(d.Runs) > 0 {
		left = d.Runs[0].Copy
	}
	j := 0
	var err error
	usedBlocks(used, bs, func(k int64) bool {
		for ri < len(d.Runs) && left == 0 {
			if copying {
				copying, left = false, d.Runs[ri].Lit
			} else {
				ri++
				if ri < len(d.Runs) {
					copying, left = true, d.Runs[ri].Copy
				}
			}
		}
		if ri >= len(d.Runs) {
			err = corrupt("recipe delta: runs end before the blocks")
			return false
		}
		left--
		if !copying {
			out = append(out, d.Lits[lit])
			lit++
			return true
		}
		for j < len(bn) && bn[j] < k {
			j++
		}
		if j == len(bn) || bn[j] != k {
			err = corrupt("recipe delta: copies block %d, which the base does not have", k)
			return false
		}
		out = append(out, base.Blocks[j])
		return true
	})
	return out, err
}

func blockNumbers(used []image.Range, bs int64) []int64 {
	out := make([]int64, 0, countBlocks(used, bs))
	usedBlocks(used, bs, func(k int64) bool { out = append(out, k); return true })
	return out
}

func (d *recipeDelta) marshal(b []byte) []byte {
	le := binary.LittleEndian
	b = append(b, d.Base[:]...)
	b = le.AppendUint32(b, uint32(len(d.Runs)))
	for _, r := range d.Runs {
		b = le.AppendUint32(b, r.Copy)
		b = le.AppendUint32(b, r.Lit)
	}
	for _, h := range d.Lits {
		b = append(b, h[:]...)
	}
	return b
}

// parseDelta decodes the delta of a recipe of nb blocks from p, which it
// must fill exactly.
func parseDelta(p []byte, nb uint64) (*recipeDelta, error) {
	le := binary.LittleEndian
	if len(p) < 36 {
		return nil, corrupt("recipe delta: truncated")
	}
	d := &recipeDelta{}
	copy(d.Base[:], p)
	nr := le.Uint32(p[32:])
	p = p[36:]
	if uint64(nr)*8 > uint64(len(p)) {
		return nil, corrupt("recipe delta: %d runs do not fit", nr)
	}
	d.Runs = make([]run, nr)
	var total, lits uint64
	for i := range d.Runs {
		d.Runs[i] = run{Copy: le.Uint32(p[8*i:]), Lit: le.Uint32(p[8*i+4:])}
		if d.Runs[i].Copy == 0 && d.Runs[i].Lit == 0 {
			return nil, corrupt("recipe delta: empty run")
		}
		total += uint64(d.Runs[i].Copy) + uint64(d.Runs[i].Lit)
		lits += uint64(d.Runs[i].Lit)
	}
	p = p[8*nr:]
	if total != nb || uint64(len(p)) != lits*32 {
		return nil, corrupt("recipe delta: runs cover %d of %d blocks, %d literal hashes in %d bytes", total, nb, lits, len(p))
	}
	d.Lits = make([]Hash, lits)
	for i := range d.Lits {
		copy(d.Lits[i][:], p[32*i:])
	}
	return d, nil
}
