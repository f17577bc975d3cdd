package layout

import (
	"encoding/binary"
	"fmt"
	"io"
)

const mbrMaxLogical = 128

// mbrPart is a partition entry of sector 0 or of an EBR, and where it is.
type mbrPart struct {
	index    int   // Linux number
	tableLBA int64 // sector holding the entry
	slot     int   // 0..3
	typ      byte
	start    int64 // absolute LBA
	count    int64
}

func (p mbrPart) end() int64 { return p.start + p.count }

type mbrDisk struct {
	protective bool
	primary    []mbrPart
	ext        *mbrPart  // the extended container, if any
	logical    []mbrPart // in chain order
}

func mbrExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

func readSector(r io.ReaderAt, lba int64) ([]byte, error) {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, lba*512); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

func putLE32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
func putLE64(b []byte, v int64)  { binary.LittleEndian.PutUint64(b, uint64(v)) }

// readMBR reads an MBR table, or nil when sector 0 has none.
func readMBR(r io.ReaderAt, size int64) (*mbrDisk, error) {
	s, err := readSector(r, 0)
	if err != nil {
		return nil, err
	}
	if s[510] != 0x55 || s[511] != 0xaa {
		return nil, nil
	}
	m := &mbrDisk{}
	for i := range 4 {
		e := s[446+16*i:]
		if e[0] != 0 && e[0] != 0x80 {
			return nil, nil // a filesystem's boot sector, not a table
		}
		p := mbrPart{index: i + 1, slot: i, typ: e[4], start: int64(le32(e[8:])), count: int64(le32(e[12:]))}
		if p.typ == 0 || p.count == 0 {
			continue
		}
		if p.typ == 0xee {
			m.protective = true
			continue
		}
		if mbrExtended(p.typ) {
			m.ext = &p
			continue
		}
		m.primary = append(m.primary, p)
	}
	if m.ext != nil {
		seen := map[int64]bool{}
		ebr := m.ext.start
		for n := 0; n < mbrMaxLogical && !seen[ebr] && ebr >= m.ext.start && ebr < m.ext.end() && (ebr+1)*512 <= size; n++ {
			seen[ebr] = true
			b, err := readSector(r, ebr)
			if err != nil {
				return nil, err
			}
			if b[510] != 0x55 || b[511] != 0xaa {
				break
			}
			e := b[446:]
			if e[4] != 0 && le32(e[12:]) != 0 && !mbrExtended(e[4]) {
				m.logical = append(m.logical, mbrPart{index: 5 + len(m.logical), tableLBA: ebr, slot: 0, typ: e[4],
					start: ebr + int64(le32(e[8:])), count: int64(le32(e[12:]))})
			}
			next := b[446+16:]
			if !mbrExtended(next[4]) || le32(next[8:]) == 0 {
				break
			}
			ebr = m.ext.start + int64(le32(next[8:]))
		}
	}
	if len(m.primary) == 0 && m.ext == nil && !m.protective {
		return nil, nil
	}
	return m, nil
}

// setCount rewrites the sector count of the entry p (in sector 0 or its
// EBR; a logical entry's start is relative to its EBR, its count is not).
func setCount(d Disk, p mbrPart, count int64) error {
	b, err := readSector(d, p.tableLBA)
	if err != nil {
		return err
	}
	putLE32(b[446+16*p.slot+12:], uint32(count))
	if _, err := d.WriteAt(b, p.tableLBA*512); err != nil {
		return fmt.Errorf("writing the partition table at LBA %d: %w", p.tableLBA, err)
	}
	return nil
}

func fitMBR(d Disk, m *mbrDisk, res *Result, cfg Config) error {
	total := min(res.Size/512, 1<<32-1)
	all := append(append([]mbrPart(nil), m.primary...), m.logical...)
	last := -1
	for i, p := range all {
		if last < 0 || p.end() > all[last].end() {
			last = i
		}
	}
	for i, p := range all {
		if i != last && p.end() > total || p.start >= total {
			return fmt.Errorf("%w: partition %d (bytes %d..%d) lies past the end of the %d-byte target",
				ErrDoesNotFit, p.index, p.start*512, p.end()*512, res.Size)
		}
		if err := checkDropped(cfg.Dropped, p.index, p.start*512, p.end()*512, res.Size); err != nil {
			return err
		}
	}
	if m.ext != nil && m.ext.start >= total {
		return fmt.Errorf("%w: the extended partition lies past the end of the %d-byte target", ErrDoesNotFit, res.Size)
	}
	if m.ext != nil && m.ext.end() > total {
		// A container past the disk's end is a broken table even when the
		// logical partitions inside it fit.
		if err := setCount(d, *m.ext, total-m.ext.start); err != nil {
			return err
		}
	}
	if last < 0 {
		return nil
	}
	p := all[last]
	if !(p.end() > total || cfg.Grow && p.end() < total) {
		return nil
	}
	inExt := last >= len(m.primary)
	if !inExt && m.ext != nil && m.ext.end() > p.end() && cfg.Grow {
		return nil // an (empty) extended container ends later: nothing to grow into
	}
	count := total - p.start
	if inExt {
		// The container must hold its last logical partition.
		if err := setCount(d, *m.ext, total-m.ext.start); err != nil {
			return err
		}
	}
	if err := setCount(d, p, count); err != nil {
		return err
	}
	res.Resized = &Resized{Index: p.index, Start: p.start * 512, OldSize: p.count * 512, NewSize: count * 512}
	return nil
}

// fixProtective makes the protective MBR's 0xEE entry cover a disk of size
// bytes with sectors of ss bytes (capped at 2^32-1 sectors, as the UEFI
// spec says).
func fixProtective(d Disk, size, ss int64) error {
	s, err := readSector(d, 0)
	if err != nil {
		return err
	}
	changed := false
	for i := range 4 {
		e := s[446+16*i:]
		if e[4] != 0xee {
			continue
		}
		start := int64(le32(e[8:]))
		want := min(size/ss-start, 1<<32-1)
		if want > 0 && int64(le32(e[12:])) != want {
			putLE32(e[12:], uint32(want))
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if _, err := d.WriteAt(s, 0); err != nil {
		return fmt.Errorf("writing the protective MBR: %w", err)
	}
	return nil
}

// inside reports whether every partition lies inside a disk of size bytes
// and starts past sector 0: a table that was right for the image's disk.
func (m *mbrDisk) inside(size int64) bool {
	parts := append(append([]mbrPart(nil), m.primary...), m.logical...)
	if m.ext != nil {
		parts = append(parts, *m.ext)
	}
	for _, p := range parts {
		if p.start < 1 || p.end()*512 > size {
			return false
		}
	}
	return true
}
