// Package simnet is an in-memory multicast network for testing protocol state machines
// deterministically: a discrete-event loop over a virtual clock.
//
// Nodes are anything with Handle (a datagram arrives) and Poll (emit what is due, say
// when to be called again), such as mcast.Sender and mcast.Receiver. Every packet a node
// emits goes to every other node, as on a multicast group. Each node has a Link that
// shapes what it receives: delay, jitter (which reorders), independent and bursty
// (Gilbert-Elliott) loss, duplication and a rate limit with a finite queue (tail drop,
// the way a slow port loses packets). Nodes can join late and die.
//
// Nothing runs concurrently and nothing sleeps: Run pops events from a heap in time
// order, so a simulation of 1000 receivers takes as long as the work they do, and the
// same Seed replays the same run. The packet a node emits is copied once and the same
// read-only slice is handed to every receiver: Handle must not modify it.
package simnet
