package transport

import "testing"

func TestPoolShape(t *testing.T) {
	for _, c := range []struct{ nb, size, batches, limit, wantNB, wantBatches int }{
		{32, 64 << 10, 8, 0, 32, 8},                              // no limit
		{32, 64 << 10, 8, 32 << 20, 32, 8},                       // fits
		{32, 64 << 10, 8, 4 << 20, 16, 4},                        // GRO: 16 MiB -> 4 MiB
		{64, 9216, 16, 4 << 20, 64, 7},                           // plain: 9 MiB -> 4 MiB
		{32, 64 << 10, 8, 64 << 10, minPoolMsgs, minPoolBatches}, // floors
	} {
		nb, b := poolShape(c.nb, c.size, c.batches, c.limit)
		if nb != c.wantNB || b != c.wantBatches {
			t.Errorf("poolShape(%d, %d, %d, %d) = %d, %d; want %d, %d", c.nb, c.size, c.batches, c.limit, nb, b, c.wantNB, c.wantBatches)
		}
	}
}
