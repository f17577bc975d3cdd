// Package transport runs Discus's state machines on a real network: the UDP multicast
// transport (ListenUDP, batched recvmmsg/sendmmsg, IPv4 and IPv6 groups, a data and a
// control port), the Transport seam that tests replace, and Drive, the owner loop that
// feeds a machine the datagrams and the time and sends what it emits.
//
//	tr, err := transport.ListenUDP(transport.RoleReceiver, transport.UDPConfig{Interface: "eth0"})
//	r := mcast.NewReceiver(mcast.ReceiverConfig{Deliver: write}, time.Now())
//	err = transport.Drive(ctx, tr, r, func() (bool, error) { return r.Done(), r.Err() })
//
// Drive puts a *mcast.Sender or *mcast.Receiver OnWire first, so every datagram that
// crosses the transport carries its trailer (package mcast/wire). BlockSizeForMTU sizes
// blocks so that data packets are never fragmented.
package transport
