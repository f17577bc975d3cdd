package mcast

// Waiting reports whether the receiver waits for blocks from its sender: it joined, it
// lacks blocks of some chunk, and it has room to take them. It does not while every
// chunk it lacks is complete and only waits for its consumer (out for delivery, or
// deferred and held), nor while such chunks fill its window (MaxPartial): a receiver
// whose disk is slower than the network then waits for its disk, and the sender rightly
// sends it nothing. Session policies use it so that silence on the wire is taken for a
// lost sender only while something is expected from it (the 3-VM netboot lab's slow VM
// held 15 complete chunks for 60 s of writing and gave up, bench/RESULTS.md).
func (r *Receiver) Waiting() bool {
	if !r.joined || r.err != nil || r.Complete() {
		return false
	}
	parked := r.held + r.out
	if parked >= r.cfg.maxPartial {
		return false
	}
	if !r.info.Final {
		return true // more chunks may come
	}
	return r.done.len()-r.nDone-parked > 0
}
