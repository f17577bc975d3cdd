// Package mcast is the Discus multicast protocol: one sender puts a sequence of opaque
// chunks onto any number of receivers over one IP multicast group, fast and without
// loss. docs/PROTOCOL.md specifies it byte by byte.
//
// # Layers
//
// The protocol is split by layer, each a package of its own:
//
//   - mcast/wire: the packet formats (Header, Announce, Data, Request, Report, Ack with
//     their Append and Parse functions), the frame layer that adds and checks every
//     packet's trailer (Framer) and the drop reasons (Drops). Nothing above it touches
//     bytes.
//   - mcast/congestion: the pacer, the adaptive rate control, the loss meter, the RTT
//     estimator and the rules both ends share. It holds no reference to a Sender: each
//     decision gets its inputs as arguments.
//   - mcast (this package): the state machines Sender and Receiver, their configs and
//     statistics, and OnWire, which puts a machine on a network behind the frame layer.
//   - mcast/transport: the UDP multicast transport and the real-time owner loop Drive;
//     mcast/simnet drives the same machines on a simulated network in virtual time.
//   - package session (outside mcast): image sessions, Send and ReceiveImage, which
//     tie an image (package image), the machines and a transport together.
//
// # State machines
//
// The protocol lives in two socket-free, goroutine-free, timer-free state machines:
//
//	s, _ := mcast.NewSender(mcast.SenderConfig{SessionID: id}, source, time.Now())
//	r := mcast.NewReceiver(mcast.ReceiverConfig{}, time.Now())
//
// Both take received datagrams with Handle(pkt, now) and emit datagrams from
// Poll(now, emit), which returns when it wants to be called again.
//
// # Deliveries are outputs
//
// A Receiver does no consumer's work inside Handle (raft's Ready/Advance is the
// model): a chunk whose blocks are all in comes out of Ready, with the decoder that
// holds them, and the consumer settles it later:
//
//	for _, d := range r.Ready() {
//		go func() { // or a bounded worker queue, as session.ReceiveImage does
//			b, err := d.Dec.Bytes() // the FEC rebuild, off the receive loop
//			if err == nil {
//				err = write(d.Index, b) // checksums, decompression, the write
//			}
//			results <- verdict{d.Index, err}
//		}()
//	}
//	// later, on the loop: r.Settle(v.index, v.err, now)
//
// Settle(i, nil) means written: the decoder stays the consumer's, which calls its
// Release once done with the bytes (the buffer then serves the next chunk; package
// session hands it to image.Installer.PutOwned, so the chunk is never copied). An
// error wrapping ErrDeferred means not judged yet or no room now: the receiver holds
// the chunk and offers it again. Any other error rejects it: the receiver takes the
// decoder back and fetches the chunk again under the rebuild rules (docs/PROTOCOL.md
// §3 item 2). Between Ready and Settle the receiver never touches the decoder, takes
// no more blocks of the chunk and does not ask for it; such chunks count against
// the held-chunk bound, so a slow consumer holds the network back (DropWindow) instead of
// growing memory. ReceiverConfig.Deliver is the synchronous form (rebuild and
// callback inside Handle), kept for tests and simple consumers. All randomness comes
// from the Rand in the config, so a simulation replays exactly. transport.Drive runs
// one over a transport.Transport (transport.UDP) in real time; package mcast/simnet
// runs many over a simulated network in virtual time.
//
// # How a transfer works
//
// The sender announces the session (chunk count, block size, FEC parameters, rate, the
// opaque Meta such as an image header) every 200 ms. Receivers drive: each asks for the
// chunks it lacks, a small window ahead of a random starting point, and for a chunk it
// holds part of, says how many blocks it still misses. Every packet goes to the group,
// so receivers hear each other's requests and hold back (with a random delay biased so
// the neediest asks first) when someone already asked for what they need; and every
// receiver keeps every block of every chunk it lacks, whoever asked for it.
//
// The sender folds all requests into one queue (no chunk twice, the largest deficit
// wins, a whole-chunk request absorbs partial ones) and answers a deficit with fresh
// Reed-Solomon parity (package fec): any K blocks of a chunk rebuild it, so one repair
// packet fixes a different loss at every receiver. A token bucket paces the packets
// evenly; in the default adaptive mode the rate follows the loss receivers report,
// treating a steady loss floor as noise. Receivers much lossier or slower than the rest
// are served from a small side share, so they never hold the others back.
//
// Receivers report progress RTCP-style (all together a small fixed share of the
// traffic) and completion, which the sender acknowledges; Sender.Receivers tells who
// was heard and how far each is.
//
// # Failure modes
//
// Malformed, truncated, foreign-session, replayed and reordered packets are dropped
// and counted by reason (wire.Drops); none can make a node panic. A chunk the consumer
// rejects (a checksum failed) is fetched again. A replacement sender of the same
// session is followed without losing what was received. A sender that gives up
// (Sender.Abort) says so; a receiver ends with an *AbortError on its word, at once with
// a key and after a second of it without one (docs/PROTOCOL.md §1.9). Memory is bounded on both
// sides: the sender caches the parity of a few chunks, the receiver holds a few partial
// chunks.
package mcast
