package image

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// installJob is a verified chunk waiting for a worker: its parsed header
// and a copy of its bytes (buf), or the bytes themselves, given with
// PutOwned (owned, handed back through release).
type installJob struct {
	ch      *ChunkHeader
	buf     *[]byte
	owned   []byte
	release func()
}

func (in *Installer) work() {
	var raw, open []byte
	for j := range in.jobs {
		var err error
		if j.buf == nil {
			err = in.install(j.ch, j.owned, &raw, &open)
			if j.release != nil {
				j.release()
			}
		} else {
			err = in.install(j.ch, *j.buf, &raw, &open)
			select {
			case in.bufs <- j.buf:
			default:
			}
		}
		<-in.slots
		if err != nil {
			in.mu.Lock()
			if in.fatal == nil {
				in.fatal = err
			}
			in.mu.Unlock()
		}
	}
}

// install opens (if sealed), decompresses and writes one verified chunk. A
// payload that will not open or decompress (its checksum matched, so the
// creator made it so) is dropped and may be Put again; a write error is
// fatal.
func (in *Installer) install(ch *ChunkHeader, chunk []byte, rawBuf, openBuf *[]byte) error {
	raw := chunk[ch.HeaderLen:]
	var err error
	if ch.Sealed {
		if cap(*openBuf) < len(raw) {
			*openBuf = make([]byte, len(raw))
		}
		raw, err = in.cfg.Decrypt.openChunk(ch, chunk, *openBuf)
		if err == nil {
			*openBuf = raw[:0]
		}
	}
	payload := raw
	if err == nil && ch.Codec == CodecZstd {
		if cap(*rawBuf) < int(ch.RawLen) {
			*rawBuf = make([]byte, ch.RawLen)
		}
		raw, err = in.dec.DecodeAll(payload, (*rawBuf)[:0:ch.RawLen])
		if err == nil && len(raw) != int(ch.RawLen) {
			err = fmt.Errorf("decompressed %d bytes, expected %d", len(raw), ch.RawLen)
		}
	}
	if err == nil && ch.SHA256 != nil && sha256.Sum256(raw) != *ch.SHA256 {
		err = errors.New("SHA-256 mismatch")
	}
	if err != nil {
		in.mu.Lock()
		in.unaccept(int(ch.Index), 0) // ChunkBytes keeps counting what arrived
		in.stats.Rejected++
		if in.badData == nil {
			in.badData = &ChunkError{Index: int(ch.Index), Offset: -1, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
		}
		in.mu.Unlock()
		if l := in.cfg.Logger; l != nil {
			l.Warn("chunk does not decompress; dropped", "chunk", ch.Index, "err", err)
		}
		return nil
	}
	var gap int64
	pos := ch.Span.Off
	gaps := in.cfg.Gaps
	if in.incr != nil {
		gaps = GapLeave // an increment's gaps hold reference blocks: Close clears the real ones
	}
	for _, r := range ch.Ranges {
		if err := fillGap(in.target, gaps, pos, r.Off-pos); err != nil {
			return in.writeErr(ch, pos, err)
		}
		gap += r.Off - pos
		if err := in.writeRange(raw[:r.Len], r.Off); err != nil {
			return in.writeErr(ch, r.Off, err)
		}
		raw = raw[r.Len:]
		pos = r.End()
	}
	if err := fillGap(in.target, gaps, pos, ch.Span.End()-pos); err != nil {
		return in.writeErr(ch, pos, err)
	}
	gap += ch.Span.End() - pos
	in.mu.Lock()
	in.done.set(int(ch.Index))
	in.stats.Written++
	in.stats.DataBytes += int64(ch.RawLen)
	if gaps != GapLeave {
		in.stats.GapBytes += gap
	}
	in.mu.Unlock()
	return nil
}

func (in *Installer) writeErr(ch *ChunkHeader, off int64, err error) error {
	return fmt.Errorf("image: writing chunk %d to %s at byte %d: %w", ch.Index, in.name, off, err)
}
