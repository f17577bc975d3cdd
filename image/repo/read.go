package repo

import (
	"crypto/sha256"
	"fmt"
)

// frameCache keeps the last few decompressed frames: an image is read in
// disk order, and consecutive blocks of one release mostly sit in one
// frame.
type frameCache struct {
	keys [cacheFrames][2]uint32
	data [cacheFrames][]byte
	used [cacheFrames]uint64
	tick uint64
}

const cacheFrames = 8

func (c *frameCache) get(pack, frame uint32) []byte {
	for i := range c.keys {
		if c.data[i] != nil && c.keys[i] == [2]uint32{pack, frame} {
			c.tick++
			c.used[i] = c.tick
			return c.data[i]
		}
	}
	return nil
}

func (c *frameCache) put(pack, frame uint32, b []byte) {
	old := 0
	for i := range c.keys {
		if c.data[i] == nil {
			old = i
			break
		}
		if c.used[i] < c.used[old] {
			old = i
		}
	}
	c.tick++
	c.keys[old], c.data[old], c.used[old] = [2]uint32{pack, frame}, b, c.tick
}

// readFrame returns frame fi of pack pi decompressed. Called with mu held.
func (r *Repo) readFrame(pi, fi uint32) ([]byte, error) {
	if b := r.cache.get(pi, fi); b != nil {
		return b, nil
	}
	fr := &r.frames[pi][fi]
	stored := make([]byte, fr.Stored)
	if _, err := r.packs[pi].ReadAt(stored, fr.Off); err != nil {
		return nil, fmt.Errorf("repo: reading pack %d: %w", r.cat.Packs[pi].ID, err)
	}
	raw := stored
	if fr.Codec == codecZstd {
		var err error
		raw, err = r.dec.DecodeAll(stored, make([]byte, 0, fr.Raw))
		if err != nil {
			return nil, corrupt("pack %d frame %d: %v", r.cat.Packs[pi].ID, fi, err)
		}
	}
	if len(raw) != int(fr.Raw) {
		return nil, corrupt("pack %d frame %d: %d bytes, the index says %d", r.cat.Packs[pi].ID, fi, len(raw), fr.Raw)
	}
	r.cache.put(pi, fi, raw)
	return raw, nil
}

// readBlock copies block h into dst (len(dst) must be its length) after
// checking its SHA-256. Called with mu held.
func (r *Repo) readBlock(h Hash, dst []byte) error {
	loc, ok := r.index[h]
	if !ok {
		return corrupt("block %x is in no pack", h[:8])
	}
	if int(loc.len) != len(dst) {
		return corrupt("block %x: %d bytes stored, %d wanted", h[:8], loc.len, len(dst))
	}
	raw, err := r.readFrame(loc.pack, loc.frame)
	if err != nil {
		return err
	}
	b := raw[loc.off : loc.off+loc.len]
	if sha256.Sum256(b) != h {
		return corrupt("pack %d frame %d: block %x does not match its hash", r.cat.Packs[loc.pack].ID, loc.frame, h[:8])
	}
	copy(dst, b)
	return nil
}
