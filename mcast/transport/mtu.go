package transport

import "github.com/discuscast/discus/mcast/wire"

// BlockSizeForMTU is the largest block whose data packet, with IP and UDP
// headers, fits a path MTU without fragmentation (a fragmented datagram
// costs twice the packets and is lost if either piece is). It is rounded
// down to a multiple of 64 bytes when that leaves at least 64, since the
// erasure code works on 64-byte units and codes such blocks in place.
// keyed says whether the session authenticates its packets (SenderConfig.Key).
func BlockSizeForMTU(mtu int, ipv6, keyed bool) int {
	ipUDP := 20 + 8
	if ipv6 {
		ipUDP = 40 + 8
	}
	b := mtu - ipUDP - wire.DataPacketLen(0, keyed)
	if b >= 128 {
		return b &^ 63
	}
	return max(b&^1, 2)
}
