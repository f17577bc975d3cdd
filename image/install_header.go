package image

import "fmt"

// checkSize refuses (or grows, with Grow) a target smaller than need.
func (in *Installer) checkSize(need int64) error {
	if need < 0 || in.size < 0 || in.size >= need {
		return nil
	}
	if in.reg != nil && in.cfg.Grow {
		if err := in.reg.Truncate(need); err != nil {
			return fmt.Errorf("image: growing %s to %d bytes: %w", in.name, need, err)
		}
		in.size = need
		return nil
	}
	return fmt.Errorf("%w: %s holds %d bytes, the image needs %d", ErrTargetTooSmall, in.name, in.size, need)
}

// SetHeader replaces a preliminary header with the image's final one (same
// image, now with its chunk count and size).
func (in *Installer) SetHeader(h *Header) error {
	if err := h.validate(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	old := in.h
	if !old.canBecome(h) {
		return fmt.Errorf("%w: new header does not match the image being installed", ErrForeignImage)
	}
	if h.Complete && in.have.max() >= int(h.ChunkCount) {
		return corruptf("a chunk beyond the image's %d chunks was installed", h.ChunkCount)
	}
	if err := in.checkSize(h.TargetSize); err != nil {
		return err
	}
	in.h = h.clone()
	return nil
}

// completeFrom completes a preliminary header from the image's last chunk,
// which knows the chunk count and where the target ends. So a receiver
// that has every chunk can finish without the final header. in.mu is held.
func (in *Installer) completeFrom(ch *ChunkHeader) error {
	h := in.h.clone()
	if h.TargetSize != SizeUnknown && h.TargetSize != ch.Span.End() {
		return corruptf("last chunk ends at %d, target size is %d", ch.Span.End(), h.TargetSize)
	}
	if in.have.max() >= int(ch.Count) {
		return corruptf("last chunk says %d chunks, chunk %d was installed", ch.Count, in.have.max())
	}
	h.TargetSize = ch.Span.End()
	h.ChunkCount = ch.Count
	h.Complete = true
	if err := in.checkSize(h.TargetSize); err != nil {
		return err
	}
	in.h = h
	return nil
}

// Header returns the header the installer works with.
func (in *Installer) Header() *Header {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.h.clone()
}

// canBecome reports whether h may replace the header old describes an image
// by: the same image, with nothing old already said (size, a final chunk
// count) contradicted.
func (old *Header) canBecome(h *Header) bool {
	return h.ID == old.ID && h.ChunkSize == old.ChunkSize &&
		h.Encrypted == old.Encrypted && h.KeyID == old.KeyID &&
		(old.ManifestRoot == [32]byte{} || old.ManifestRoot == h.ManifestRoot) &&
		(old.TargetSize == SizeUnknown || old.TargetSize == h.TargetSize) &&
		(!old.Complete || h.Complete && old.ChunkCount == h.ChunkCount)
}
