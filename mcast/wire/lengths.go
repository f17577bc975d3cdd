package wire

// Packet lengths, computed here only (docs/PROTOCOL.md §1.3, §1.8).
const (
	// DataOverhead is the bytes a data packet carries besides its block: the common
	// header, the data header and the keyless trailer; a keyed session's trailer is
	// AuthOverhead bytes longer.
	DataOverhead = HeaderLen + dataBody + crcTrailerLen
	AuthOverhead = authTrailerLen - crcTrailerLen

	// MaxDatagram is the largest UDP payload (over IPv4).
	MaxDatagram = 65507
)

// DataLen is the length of a data packet carrying a block of blockSize bytes, as a
// state machine sees it (without the trailer).
func DataLen(blockSize int) int { return HeaderLen + dataBody + blockSize }

// DataPacketLen is the length of such a data packet on the wire, trailer included.
func DataPacketLen(blockSize int, keyed bool) int { return DataLen(blockSize) + TrailerLen(keyed) }
