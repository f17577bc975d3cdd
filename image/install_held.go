package image

import (
	"errors"
	"fmt"
	"sort"
)

// Held records that the target already holds chunk i of the image: the
// caller hashed the target against the image's block map (HashTarget,
// HeldChunks) and every used byte of the chunk's span is right. The chunk
// then counts as verified and written without being received; its gaps get
// the GapMode treatment a written chunk's would (nothing for GapLeave). It
// returns false (and does nothing) for a chunk already accepted. bm must be
// the block map of the installer's (complete) header: the one its manifest
// root commits to, never one taken from the target or a label.
func (in *Installer) Held(i int, bm *BlockMap) (bool, error) {
	in.mu.Lock()
	if in.closed || in.fatal != nil {
		in.mu.Unlock()
		return false, errors.Join(ErrClosed, in.fatal)
	}
	if !in.h.Complete || bm.CheckHeader(in.h) != nil {
		in.mu.Unlock()
		return false, fmt.Errorf("image: held chunk %d: the block map is not the installed image's", i)
	}
	if i < 0 || i >= int(in.h.ChunkCount) {
		in.mu.Unlock()
		return false, fmt.Errorf("image: held chunk %d out of range", i)
	}
	if in.have.get(i) {
		in.mu.Unlock()
		return false, nil
	}
	in.have.set(i)
	in.stats.Accepted++
	in.mu.Unlock()

	if in.incr != nil {
		// An increment's chunk spans hold reference blocks besides its own
		// (install_incr.go): nothing of them is touched, Close clears real gaps.
		in.mu.Lock()
		in.done.set(i)
		in.stats.Held++
		for _, r := range bm.LiteralRanges(nil, i) {
			in.stats.HeldBytes += r.Len
		}
		in.mu.Unlock()
		return true, nil
	}
	sp := bm.Span(i)
	var gap int64
	pos := sp.Off
	for _, r := range bm.ChunkRanges(nil, i) {
		if err := fillGap(in.target, in.cfg.Gaps, pos, r.Off-pos); err != nil {
			return true, in.heldErr(i, pos, err)
		}
		gap += r.Off - pos
		pos = r.End()
	}
	if err := fillGap(in.target, in.cfg.Gaps, pos, sp.End()-pos); err != nil {
		return true, in.heldErr(i, pos, err)
	}
	gap += sp.End() - pos
	in.mu.Lock()
	in.done.set(i)
	in.stats.Held++
	in.stats.HeldBytes += bm.chunkUsed(i)
	if in.cfg.Gaps != GapLeave {
		in.stats.GapBytes += gap
	}
	in.mu.Unlock()
	return true, nil
}

func (in *Installer) heldErr(i int, off int64, err error) error {
	err = fmt.Errorf("image: clearing the gaps of held chunk %d on %s at byte %d: %w", i, in.name, off, err)
	in.mu.Lock()
	if in.fatal == nil {
		in.fatal = err
	}
	in.mu.Unlock()
	return err
}

// chunkUsed is the number of used bytes in chunk i's span.
func (m *BlockMap) chunkUsed(i int) int64 {
	var n int64
	for _, r := range m.ChunkRanges(nil, i) {
		n += r.Len
	}
	return n
}

// SetPresent tells the installer which blocks of the image's block map bm the
// target already holds (match, from HashTarget on this target): writing a chunk
// then skips the bytes of those blocks, so a resumed or upgraded target is written
// only where it differs. Call it before the first Put. The blocks were proved by
// hashing the target itself against the map the manifest root commits to.
func (in *Installer) SetPresent(bm *BlockMap, match []bool) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.h.Complete || bm.CheckHeader(in.h) != nil || len(match) != bm.Len() {
		return fmt.Errorf("image: present blocks: the block map is not the installed image's")
	}
	in.present, in.presentMap = match, bm
	in.openGate()
	return nil
}

// AwaitPresent makes writes wait until SetPresent (or ReleaseWrites) says which
// blocks the target holds: a caller that is hashing the target calls it first, so
// chunks that arrive meanwhile are not written over blocks that turn out to be right.
// Chunks are still verified and accepted; only their writes wait (the window then
// fills and Put blocks, which is the back-pressure). Close releases them.
func (in *Installer) AwaitPresent() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.presentGate == nil && in.presentMap == nil {
		in.presentGate = make(chan struct{})
	}
}

// WritesWaiting reports whether writes wait for SetPresent (AwaitPresent, not yet
// released): a caller with a bounded pool of writers should hold chunks back rather
// than park its writers, which the chunks that end the wait may need.
func (in *Installer) WritesWaiting() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.presentGate != nil
}

// ReleaseWrites lets waiting writes go ahead without a present-block map (the
// hashing failed).
func (in *Installer) ReleaseWrites() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.openGate()
}

// openGate releases writes waiting for AwaitPresent; in.mu is held.
func (in *Installer) openGate() {
	if in.presentGate != nil {
		close(in.presentGate)
		in.presentGate = nil
	}
}

// writeRange writes b at off, skipping the parts in blocks the target holds.
func (in *Installer) writeRange(b []byte, off int64) error {
	in.mu.Lock()
	gate := in.presentGate
	in.mu.Unlock()
	if gate != nil {
		<-gate
	}
	in.mu.Lock()
	bm, match := in.presentMap, in.present
	in.mu.Unlock()
	if bm == nil {
		_, err := in.target.WriteAt(b, off)
		in.written.Add(int64(len(b)))
		return err
	}
	bs := int64(bm.BlockSize())
	for len(b) > 0 {
		k := off / bs
		n := min(int64(len(b)), (k+1)*bs-off)
		// Runs of blocks to write are written at once.
		skip := bm.holds(match, k)
		for !skip && n < int64(len(b)) && !bm.holds(match, (off+n)/bs) {
			n = min(int64(len(b)), n+bs)
		}
		if !skip {
			if _, err := in.target.WriteAt(b[:n], off); err != nil {
				return err
			}
			in.written.Add(n)
		} else {
			in.skipped.Add(n)
		}
		b, off = b[n:], off+n
	}
	return nil
}

// holds reports whether block number k is in the map and matched.
func (m *BlockMap) holds(match []bool, k int64) bool {
	i := sort.Search(len(m.block), func(i int) bool { return m.block[i] >= k })
	return i < len(m.block) && m.block[i] == k && match[i]
}
