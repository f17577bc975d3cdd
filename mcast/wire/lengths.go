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

// MaxSenderPacket is the longest packet a sender with blocks of blockSize bytes emits,
// with room for the longer (authentication) trailer: a data packet or an announce
// with the largest meta. The frame layer seals in place in a buffer of that capacity.
func MaxSenderPacket(blockSize int) int {
	return max(DataLen(blockSize), HeaderLen+announceBody+MaxMeta) + authTrailerLen
}

// MaxReceiverPacket is the longest packet a receiver emits (a request of MaxNeeds
// needs), with room for the authentication trailer.
const MaxReceiverPacket = HeaderLen + progressBody + 2 + MaxNeeds*needLen + authTrailerLen
