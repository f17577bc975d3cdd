package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestGolden pins the bytes of every repository structure (docs/FORMAT.md,
// "Partition repository"): a change here is a format change, which needs a
// new version and docs that say so.
func TestGolden(t *testing.T) {
	child := fuzzRecipe()
	child.Blocks[2][5] = 1
	child.delta = makeDelta(child.Used, child.Blocks, fuzzRecipe(), Hash{0xaa})
	idx, off := fuzzPackIndex()
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"catalog", fuzzCatalog().marshal(), "3cdd6e8a24e0472c"},
		{"recipe", fuzzRecipe().marshal(), "96a28b69ac48f52e"},
		{"delta recipe", child.marshal(), "90aae814f9fc4f39"},
		{"pack index", idx, "7d8680939b2002b2"},
		{"pack header", packHeader(16384), "bf92a3cc004896c8"}, // "DSRP" 01 000000 00400000
		{"pack trailer", packTrailer(off, idx), "ab3a6a7f7337ab43"},
	} {
		sum := sha256.Sum256(c.b)
		if got := hex.EncodeToString(sum[:8]); got != c.want {
			t.Errorf("%s: %d bytes, sha256 %s…, want %s…\n%x", c.name, len(c.b), got, c.want, c.b)
		}
	}
}
