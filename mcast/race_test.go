//go:build race

package mcast_test

// Under the race detector the largest simulations run at a reduced size (the race
// detector slows the event loop ~10x); CI runs the full sizes once without -race.
const raceEnabled = true
