package session

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
)

// imageGate decides what of a session's chunks reaches the sink. Session chunks
// 0..n-1 are the image's chunks, n.. its manifest's parts (ImageSource). A part is
// verified on arrival (the table against the header's manifest root, a piece against
// the table) and kept; an image chunk is written only once it matches the manifest, so
// nothing forged after the session's header was fixed — and with Trust nothing at all
// that the signer did not sign — ever reaches the target.
//
// A stream being created while it is sent (CreatingSource) has no manifest until its
// end: its chunks are written on their checksums alone until their manifest piece is
// in, their SHA-256 remembered and checked as soon as it arrives; a mismatch ends the
// session with ErrManifest (exit 6), never a success.
//
// deliver runs on the delivery workers, join and update on the receive loop: mu guards
// mc, n and unchecked (the ManifestChecker locks itself), and no hash is computed under
// it.
type imageGate struct {
	mu        sync.Mutex
	trust     *image.TrustedKeys
	streamed  bool // joined before the header was complete: no manifest to wait for
	n         int
	mc        *image.ManifestChecker
	unchecked map[int][32]byte

	// An incremental image's session (docs/PROTOCOL.md §3.9) is its n chunks, its
	// reference chunks, then its manifest's parts: partsAt is where they start (n for
	// a full image). Its chunks wait (ErrDeferred) until the block map is in and onMap
	// has given it to the sink, which then checks the reference chunks.
	delta     bool
	partsAt   int
	count     int // the session's announced chunk count
	onMap     func(*image.BlockMap) (int, error)
	refsReady bool
}

// mapSetter is a sink that installs an incremental image (*image.Installer).
type mapSetter interface {
	SetBlockMap(*image.BlockMap) (int, error)
}

// setOnMap gives the gate the sink's SetBlockMap, for a delta session.
func (g *imageGate) setOnMap(f func(*image.BlockMap) (int, error)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onMap = f
}

// refBase is the session index of reference chunk 0 (the increment's chunk count).
func (g *imageGate) refBase() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// checker is the manifest checker, nil until the complete header is known.
func (g *imageGate) checker() *image.ManifestChecker {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mc
}

// join checks a session's header before anything is installed. count is the
// session's announced chunk count, final whether it is.
func (g *imageGate) join(h *image.Header, sig *image.Signature, count int, final bool) error {
	if g.trust != nil {
		if !h.Complete {
			return fmt.Errorf("%w: the sender is creating this image as it sends it, so it is not signed", image.ErrUnsigned)
		}
		if err := g.trust.Check(h, sig); err != nil {
			return err
		}
	}
	g.mu.Lock()
	g.streamed = !h.Complete
	g.count = count
	if !h.DeltaBase.IsZero() {
		parts := h.ManifestParts()
		if !h.Complete || !final || parts == 0 || count < int(h.ChunkCount)+parts {
			g.mu.Unlock()
			return fmt.Errorf("%w: an incremental image's session of %d chunks (final %v) cannot hold its %d chunks and %d manifest parts",
				image.ErrForeignImage, count, final, h.ChunkCount, parts)
		}
		g.delta, g.partsAt = true, count-parts
	}
	g.mu.Unlock()
	return g.update(h)
}

// update takes a later header: the complete one of a stream brings the manifest.
func (g *imageGate) update(h *image.Header) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mc != nil || !h.Complete {
		return nil
	}
	mc, err := image.NewManifestChecker(h)
	if err != nil {
		return err
	}
	g.mc, g.n = mc, int(h.ChunkCount)
	if !g.delta {
		g.partsAt = g.n
	}
	return nil
}

// isPart reports whether session chunk i is one of the manifest's parts.
func (g *imageGate) isPart(i int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mc != nil && i >= g.partsAt
}

// mapIn hands a delta session's block map, once the manifest has checked it, to the
// sink (onMap) and checks that its reference chunks make the announced count. g.mu
// is held.
func (g *imageGate) mapIn() error {
	if !g.delta || g.refsReady {
		return nil
	}
	bm := g.mc.BlockMap()
	if bm == nil {
		return nil
	}
	if g.onMap == nil {
		return fmt.Errorf("%w: an incremental image can only be installed onto a target, not kept", image.ErrVersion)
	}
	refs, err := g.onMap(bm)
	if err != nil {
		return err
	}
	if g.n+refs != g.partsAt {
		return fmt.Errorf("%w: the session announces %d reference chunks, the increment's block map makes %d",
			image.ErrForeignImage, g.partsAt-g.n, refs)
	}
	g.refsReady = true
	return nil
}

// deliver judges session chunk i and hands an image chunk that passes to put. put may
// take chunk for good (PutOwned): nothing here reads chunk after a put that succeeded.
// checked tells put that chunk's SHA-256 matched the manifest (PutOwnedChecked).
func (g *imageGate) deliver(i int, chunk []byte, put func(c []byte, checked bool) error) error {
	g.mu.Lock()
	mc, n, streamed, partsAt, waitMap := g.mc, g.n, g.streamed, g.partsAt, g.delta && !g.refsReady
	g.mu.Unlock()
	switch {
	case mc == nil, streamed && i < n && !mc.Ready(i):
		// Before its manifest piece is in, a stream's chunk is written on its checksums
		// as before the manifest existed (a stream is never signed, so nothing is
		// weaker), not deferred: deferred chunks filled every early receiver's window
		// until the manifest could not get in (bench/clonezilla.sh, mcsend DISK).
		sum := sha256.Sum256(chunk)
		if err := put(chunk, false); err != nil {
			return err
		}
		g.mu.Lock()
		if g.unchecked == nil {
			g.unchecked = make(map[int][32]byte)
		}
		g.unchecked[i] = sum // checked by the next recheck, or by finish
		g.mu.Unlock()
		return nil
	case i >= partsAt:
		if err := mc.AddPart(i-partsAt, chunk); errors.Is(err, image.ErrManifestPending) {
			return mcast.ErrDeferred // a piece before the table: kept until the table is in
		} else if err != nil {
			return &image.ChunkError{Index: i, Offset: -1, Err: err}
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if err := g.mapIn(); err != nil {
			return err
		}
		return g.recheck()
	case waitMap:
		return mcast.ErrDeferred // an increment's chunks are checked against its block map too
	case i >= n:
		// A reference chunk: the installer checks each of its blocks against the block
		// map the manifest root commits to (image.Installer, install_incr.go).
		return put(chunk, false)
	case !mc.Ready(i):
		return mcast.ErrDeferred
	}
	if err := mc.CheckChunk(i, chunk); err != nil {
		return err
	}
	return put(chunk, true)
}

// recheck compares the chunks written before the manifest existed with the pieces
// verified so far (g.mu held).
func (g *imageGate) recheck() error {
	for i, sum := range g.unchecked {
		if !g.mc.Ready(i) {
			continue
		}
		if err := g.mc.CheckHash(i, sum); err != nil {
			return fmt.Errorf("%w: chunk %d, written before the manifest arrived, is not the image's", image.ErrManifest, i)
		}
		delete(g.unchecked, i)
	}
	return nil
}

// finish reports an image whose manifest never arrived or did not cover what was
// written.
func (g *imageGate) finish() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mc != nil {
		// A chunk written just as the manifest arrived was remembered after the last
		// recheck.
		if err := g.recheck(); err != nil {
			return err
		}
	}
	switch {
	case g.mc == nil:
		return errors.New("mcast: the session ended without the image's manifest")
	case !g.mc.Complete():
		return fmt.Errorf("%w: manifest parts %v never arrived", image.ErrIncomplete, g.mc.MissingParts())
	case len(g.unchecked) > 0:
		return fmt.Errorf("%w: %d chunks written before the manifest arrived were not checked", image.ErrIncomplete, len(g.unchecked))
	}
	return nil
}
