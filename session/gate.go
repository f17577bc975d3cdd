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
}

// checker is the manifest checker, nil until the complete header is known.
func (g *imageGate) checker() *image.ManifestChecker {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mc
}

// join checks a session's header before anything is installed.
func (g *imageGate) join(h *image.Header, sig *image.Signature) error {
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
	return nil
}

// isPart reports whether session chunk i is one of the manifest's parts.
func (g *imageGate) isPart(i int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mc != nil && i >= g.n
}

// deliver judges session chunk i and hands an image chunk that passes to put. put may
// take chunk for good (PutOwned): nothing here reads chunk after a put that succeeded.
// checked tells put that chunk's SHA-256 matched the manifest (PutOwnedChecked).
func (g *imageGate) deliver(i int, chunk []byte, put func(c []byte, checked bool) error) error {
	g.mu.Lock()
	mc, n, streamed := g.mc, g.n, g.streamed
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
	case i >= n:
		if err := mc.AddPart(i-n, chunk); errors.Is(err, image.ErrManifestPending) {
			return mcast.ErrDeferred // a piece before the table: kept until the table is in
		} else if err != nil {
			return &image.ChunkError{Index: i, Offset: -1, Err: err}
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.recheck()
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
