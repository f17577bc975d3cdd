package repo

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/klauspost/compress/zstd"
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

// readFrame returns frame fi of pack pi decompressed. Called with mu held
// (it may release and retake it to wait for a read-ahead of the same
// frame). Each frame read starts decoding the pack's next frame on
// another goroutine: an image is read in disk order, and its blocks
// mostly sit in consecutive frames, so decoding overlaps with whatever the
// reader does with the bytes (compressing them into chunks).
func (r *Repo) readFrame(pi, fi uint32) ([]byte, error) {
	key := [2]uint32{pi, fi}
	for {
		if b := r.cache.get(pi, fi); b != nil {
			r.readAhead(pi, fi+1)
			return b, nil
		}
		ch, ok := r.inflight[key]
		if !ok {
			break
		}
		gen := r.gen
		r.mu.Unlock()
		<-ch
		r.mu.Lock()
		if r.gen != gen {
			return nil, errReloaded // pi and fi may name other frames now
		}
	}
	raw, err := decodeFrame(r.dec, r.packs[pi], r.frames[pi][fi], r.cat.Packs[pi].ID, fi)
	if err != nil {
		return nil, err
	}
	r.cache.put(pi, fi, raw)
	r.readAhead(pi, fi+1)
	return raw, nil
}

// readAhead decodes frame fi of pack pi in the background into the cache,
// unless it is there, on its way, or does not exist. Called with mu held.
func (r *Repo) readAhead(pi, fi uint32) {
	key := [2]uint32{pi, fi}
	if int(fi) >= len(r.frames[pi]) || r.cache.get(pi, fi) != nil || r.inflight[key] != nil {
		return
	}
	ch := make(chan struct{})
	r.inflight[key] = ch
	f, fr, id, gen := r.packs[pi], r.frames[pi][fi], r.cat.Packs[pi].ID, r.gen
	go func() {
		raw, err := decodeFrame(r.dec, f, fr, id, fi)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gen == gen { // not reloaded meanwhile
			delete(r.inflight, key)
			if err == nil { // an error is found again, and reported, by the reader
				r.cache.put(pi, fi, raw)
			}
		}
		close(ch)
	}()
}

// decodeFrame reads and decompresses one frame and checks its length.
func decodeFrame(dec *zstd.Decoder, f *os.File, fr frame, packID uint64, fi uint32) ([]byte, error) {
	stored := make([]byte, fr.Stored)
	if _, err := f.ReadAt(stored, fr.Off); err != nil {
		return nil, fmt.Errorf("repo: reading pack %d: %w", packID, err)
	}
	raw := stored
	if fr.Codec == codecZstd {
		var err error
		raw, err = dec.DecodeAll(stored, make([]byte, 0, fr.Raw))
		if err != nil {
			return nil, corrupt("pack %d frame %d: %v", packID, fi, err)
		}
	}
	if len(raw) != int(fr.Raw) {
		return nil, corrupt("pack %d frame %d: %d bytes, the index says %d", packID, fi, len(raw), fr.Raw)
	}
	return raw, nil
}

// errReloaded says that the catalog was reloaded while readFrame waited:
// the block must be looked up again.
var errReloaded = errors.New("repo: reloaded")

// readBlock copies block h into dst (len(dst) must be its length) after
// checking its SHA-256. Called with mu held.
func (r *Repo) readBlock(h Hash, dst []byte) error {
	for {
		err := r.readBlockOnce(h, dst)
		if err != errReloaded {
			return err
		}
	}
}

func (r *Repo) readBlockOnce(h Hash, dst []byte) error {
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
