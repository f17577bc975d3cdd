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

// fits refuses a chunk that reaches past a target that cannot grow, before
// anything of it is written. in.mu is held.
func (in *Installer) fits(ch *ChunkHeader) error {
	if in.size >= 0 && !(in.reg != nil && in.cfg.Grow) && ch.Span.End() > in.size {
		return fmt.Errorf("%w: chunk reaches byte %d, %s holds %d", ErrTargetTooSmall, ch.Span.End(), in.name, in.size)
	}
	if in.incr != nil {
		return in.checkLiteral(ch)
	}
	return nil
}

// SetHeader replaces a preliminary header with the image's final one (same
// image, now with its chunk count and size).
func (in *Installer) SetHeader(h *Header) error {
	if err := h.validate(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.checkHeader(h); err != nil {
		return err
	}
	if err := in.checkSize(h.TargetSize); err != nil {
		return err
	}
	in.h = h.clone()
	return nil
}

// completeFrom completes a preliminary header from the image's last chunk
// (admitted, so it agrees with what is known) as soon as it comes: the
// target may have to grow to the size it tells. in.mu is held.
func (in *Installer) completeFrom(ch *ChunkHeader) error {
	h := in.completedBy(ch)
	if err := in.checkSize(h.TargetSize); err != nil {
		return in.reject(ch, err)
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
