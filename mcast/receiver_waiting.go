package mcast

// Waiting reports whether the receiver waits for blocks from its sender: it joined, it
// lacks blocks of some chunk, and it has room to take them. It does not while every
// chunk it lacks is complete and only waits for its consumer (out for delivery, or
// deferred and held), nor while such chunks fill its window (MaxPartial) and no lead
// chunk lacks blocks: a receiver whose disk is slower than the network then waits for
// its disk, and the sender rightly sends it nothing. Session policies use it so that silence on the wire is taken for a
// lost sender only while something is expected from it (the 3-VM netboot lab's slow VM
// held 15 complete chunks for 60 s of writing and gave up, bench/RESULTS.md).
func (r *Receiver) Waiting() bool {
	if !r.joined || r.err != nil || r.Complete() {
		return false
	}
	parked := r.held + r.out
	if parked >= r.cfg.maxPartial {
		// No room but for lead chunks (they have a window of their own): the held
		// chunks may be waiting for the manifest they carry.
		return r.leadLacking()
	}
	if !r.info.Final {
		return true // more chunks may come
	}
	return r.done.len()-r.nDone-parked > 0
}

// leadLacking reports whether a lead chunk (the final session's manifest) still lacks
// blocks.
func (r *Receiver) leadLacking() bool {
	if r.lead == 0 {
		return false
	}
	for c := max(r.done.len()-r.lead, 0); c < r.done.len(); c++ {
		if r.done.get(c) {
			continue
		}
		if p := r.byChunk[uint32(c)]; p == nil || !p.held && !p.out {
			return true
		}
	}
	return false
}
