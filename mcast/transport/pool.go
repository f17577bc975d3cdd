package transport

// minPoolBatches: the data and control readers each hold a batch while the loop
// handles others; fewer would stall a reader for every batch in flight.
const minPoolBatches = 4

// minPoolMsgs is the fewest messages one batch reads per call.
const minPoolMsgs = 4

// poolShape fits the receive pool (batches of nb messages of size bytes, batches of
// them) into limit bytes when limit > 0: fewer messages per batch first, then fewer
// batches, never below minPoolMsgs and minPoolBatches. With GRO the default pool is
// 8 batches of 32 64-KiB buffers, 16 MiB: a netboot VM's receiver kept that much of
// its 64 MiB just for reading (bench/RESULTS.md, netboot).
func poolShape(nb, size, batches, limit int) (int, int) {
	if limit <= 0 || nb*size*batches <= limit {
		return nb, batches
	}
	nb = min(nb, max(minPoolMsgs, limit/(minPoolBatches*size)))
	batches = min(batches, max(minPoolBatches, limit/(nb*size)))
	return nb, batches
}
