package image

// Range is a run of bytes on the target disk: Len bytes starting at byte
// offset Off. Ranges are how a chunk says where its bytes belong and how a
// filesystem reader says which parts of a disk are in use.
type Range struct {
	Off int64
	Len int64
}

// End is the offset one past the range's last byte.
func (r Range) End() int64 { return r.Off + r.Len }
