package session

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
)

// A receiver started on a target that already holds part of the image (an
// interrupted run, a power cut) finds that part by hashing the target against the
// image's block map, which the session delivers first with the manifest (its lead
// chunks), and tells the protocol core those chunks are held (mcast.Receiver.Hold):
// they are never requested and never waited for. Until the hashing is done the
// receiver asks for the lead only (ReceiverConfig.AwaitHeld), so nothing it holds
// is fetched meanwhile. The block map is the one the manifest root commits to (and
// the signature, with Trust): the target proves what it holds by its own bytes,
// never by a label. No side file is needed.

// holder is a sink that can take chunks its target already holds (*image.Installer).
type holder interface {
	Held(i int, bm *image.BlockMap) (bool, error)
	AwaitPresent()
	SetPresent(bm *image.BlockMap, match []bool) error
	ReleaseWrites()
}

// writesWaiting is a sink whose writes wait for the target's hashing (*image.Installer).
type writesWaiting interface{ WritesWaiting() bool }

// ResumeStats tells what a receiver found on its target.
type ResumeStats struct {
	Hashed      bool // the target was hashed against the block map
	Hash        image.HashStats
	HeldChunks  int             // chunks found whole on the target (not fetched)
	HeldBytes   int64           // their used bytes
	HashElapsed time.Duration   // time spent hashing (and copying relocated blocks)
	Copies      image.CopyStats // an increment's relocated blocks copied on the target
}

type resumer struct {
	target  io.ReaderAt   // nil: no resume (not readable, or a sink that keeps the image)
	pending *resumeResult // a delta session's result, waiting for the sink's block map
	key     *image.Key    // an encrypted image's key: its block map is keyed with it
	workers int
	log     *slog.Logger
	started bool
	done    bool
	res     chan resumeResult
	stats   ResumeStats
}

type resumeResult struct {
	bm      *image.BlockMap
	match   []bool
	held    []bool
	heldRef []bool // an increment's reference chunks held (docs/PROTOCOL.md §3.9)
	stats   image.HashStats
	copies  image.CopyStats
	took    time.Duration
	err     error
}

// maxCopyBuffer bounds the memory CopyRelocated may use to break cycles of copies.
const maxCopyBuffer = 16 << 20

// refHolder is a sink that installs an incremental image (*image.Installer).
type refHolder interface {
	RefChunks() int
	HeldRef(j int) (bool, error)
}

// poll runs on the receive loop: it starts hashing once the block map is in and
// applies the result when it is ready.
func (rs *resumer) poll(ctx context.Context, r *mcast.Receiver, gate *imageGate, sink ChunkSink, h *image.Header, now time.Time) error {
	if rs.done {
		return nil
	}
	mc := gate.checker()
	hl, ok := sink.(holder)
	if rs.target == nil || !ok || h == nil || !h.Complete || mc == nil || !mc.HasBlockMap() {
		// Nothing to find: a stream being created (no map before its end), an image
		// without a map, a sink that keeps the image.
		if ok {
			hl.ReleaseWrites()
		}
		rs.finish(r)
		return nil
	}
	if !rs.started {
		bm := mc.BlockMap()
		if bm == nil {
			return nil // its parts are on the way
		}
		bm = bm.WithKey(rs.key) // an encrypted image's hashes are keyed (image.BlockMap.Keyed)
		rs.started = true
		rs.res = make(chan resumeResult, 1)
		chunkSize := int(h.ChunkSize)
		go func() {
			t0 := time.Now()
			res := resumeResult{bm: bm}
			res.match, res.stats, res.err = image.HashTarget(ctx, rs.target, bm, rs.workers)
			if res.err == nil && bm.IsIncrement() {
				// Blocks the base holds elsewhere on the target are moved there, before
				// anything else writes (the installer's writes wait for SetPresent).
				if rw, ok := rs.target.(image.ReadWriterAt); ok {
					res.copies, res.err = image.CopyRelocated(ctx, rw, bm, res.match, maxCopyBuffer)
				}
				if res.err == nil {
					var l *image.RefLayout
					if l, res.err = bm.RefLayout(chunkSize); res.err == nil {
						res.heldRef = l.Held(res.match)
					}
				}
			}
			if res.err == nil {
				res.held = bm.HeldChunks(res.match)
			}
			res.took = time.Since(t0)
			rs.res <- res
		}()
		return nil
	}
	var res resumeResult
	if rs.pending != nil {
		res = *rs.pending
	} else {
		select {
		case res = <-rs.res:
		default:
			return nil
		}
	}
	if rh, ok := sink.(refHolder); ok && res.err == nil && res.heldRef != nil && rh.RefChunks() < 0 {
		rs.pending = &res // the gate gives the sink the block map as its last part is checked
		return nil
	}
	rs.pending = nil
	defer rs.finish(r)
	rs.stats.Copies = res.copies
	rs.stats.Hash, rs.stats.HashElapsed = res.stats, res.took
	if res.err != nil {
		hl.ReleaseWrites()
		// An unreadable target is no reason to give up the image: fetch it all.
		rs.log.Warn("mcast: could not hash the target to resume; receiving everything", "err", res.err)
		return nil
	}
	rs.stats.Hashed = true
	// Chunks that arrive write only the blocks the target lacks.
	if err := hl.SetPresent(res.bm, res.match); err != nil {
		hl.ReleaseWrites()
		return fmt.Errorf("mcast: resuming: %w", err)
	}
	for i, ok := range res.held {
		if !ok {
			continue
		}
		took, err := hl.Held(i, res.bm)
		if err != nil {
			return fmt.Errorf("mcast: resuming: %w", err)
		}
		if took {
			r.Hold(i, now)
			rs.stats.HeldChunks++
		}
	}
	for i, ok := range res.held {
		if ok && !res.bm.IsIncrement() {
			rs.stats.HeldBytes += chunkUsed(res.bm, i)
		}
	}
	if rh, ok := sink.(refHolder); ok && res.heldRef != nil {
		base := gate.refBase()
		for j, ok := range res.heldRef {
			if !ok {
				continue
			}
			took, err := rh.HeldRef(j)
			if err != nil {
				return fmt.Errorf("mcast: resuming: %w", err)
			}
			if took {
				r.Hold(base+j, now)
				rs.stats.HeldChunks++
			}
		}
		rs.stats.HeldBytes = sink.Stats().HeldBytes
	}
	rs.log.Info("mcast: target hashed", "blocks", res.stats.Blocks, "matched", res.stats.Matched,
		"copied", res.copies.Copied, "held chunks", rs.stats.HeldChunks, "of", len(res.held)+len(res.heldRef),
		"elapsed", res.took.Round(time.Millisecond))
	return nil
}

func (rs *resumer) finish(r *mcast.Receiver) {
	rs.done = true
	r.AwaitHeld(false)
}

// joined runs when the session is joined: with a block map to come, chunks that
// arrive before the target is hashed wait to be written (Installer.AwaitPresent), as
// the result says which of their blocks are already there, and the receiver asks
// only for the lead (the manifest and map) until then (mcast.Receiver.AwaitHeld), so
// it does not fetch what it holds. poll releases both.
func (rs *resumer) joined(r *mcast.Receiver, h *image.Header, sink ChunkSink) {
	if hl, ok := sink.(holder); ok && rs.target != nil && h.Complete && h.BlockMapLen > 0 {
		hl.AwaitPresent()
		r.AwaitHeld(true)
	}
}

func chunkUsed(bm *image.BlockMap, i int) int64 {
	var n int64
	for _, r := range bm.ChunkRanges(nil, i) {
		n += r.Len
	}
	return n
}
