package mcast_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/simnet"
)

// TestSimOutlier: one receiver at 20 % loss, or behind a link a tenth of the sender's
// rate, finishes itself but slows the others by at most 10 %. The 20 % case is judged
// on the median of five seeds: one run's ratio depends on chance (seeds 1..8 gave
// 0.87 .. 1.28 at the wire-version-3 change, whose 4 more bytes per packet reshuffled
// every run).
func TestSimOutlier(t *testing.T) {
	base := simCase{seed: 5, receivers: raceSize(30, 8), chunks: raceSize(40, 24), blockSize: 64, rate: 6_000_000, link: simnet.Link{Loss: 0.01}}
	for _, tc := range []struct {
		name  string
		link  simnet.Link
		seeds []uint64
	}{
		{"loss20", simnet.Link{Loss: 0.20}, []uint64{3, 4, 5, 6, 7}},
		{"tenthRate", simnet.Link{Loss: 0.01, Rate: 600_000, Queue: 20 * time.Millisecond}, []uint64{5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && tc.link.Rate > 0 {
				t.Skip("long at a fixed rate under -race; TestSimOutlierAdaptive covers the slow receiver")
			}
			var ratios []float64
			for _, seed := range tc.seeds {
				c := base
				c.seed = seed
				ref := runSim(t, c)
				refEnd := ref.lastFinish(0)
				l := tc.link
				c.special = &l
				res := runSim(t, c)
				logResult(t, fmt.Sprintf("%s/seed%d", tc.name, seed), res)
				others := res.lastFinish(0)
				ratios = append(ratios, float64(others)/float64(refEnd))
				t.Logf("seed %d: others finished at %v vs %v without the outlier (x%.3f); the outlier at %v",
					seed, others, refEnd, ratios[len(ratios)-1], res.finished[0])
			}
			slices.Sort(ratios)
			median := ratios[len(ratios)/2]
			t.Logf("ASSERT others slowed x%.3f (median of %d seeds, limit 1.10)", median, len(ratios))
			perfCheck(t, median <= 1.10, "others slowed x%.3f by the outlier", median)
		})
	}
}

// TestSimLateJoin: receivers join at random moments up to the middle of the transfer
// and all finish.
func TestSimLateJoin(t *testing.T) {
	base := simCase{seed: 6, receivers: 1, chunks: 12, blockSize: 64, rate: 6_000_000, link: simnet.Link{Loss: 0.01}}
	ref := runSim(t, base)
	c := base
	c.receivers = raceSize(40, 15)
	c.lateUntil = ref.lastFinish(-1) / 2
	res := runSim(t, c)
	logResult(t, t.Name(), res)
	t.Logf("ASSERT %d receivers joined in [0, %v), all done by %v", c.receivers, c.lateUntil, res.end)
}

// TestSimSenderReplaced: the sender dies mid-transfer and a new one (new node ID, same
// image) takes over 50 ms later; receivers keep what they have and finish.
func TestSimSenderReplaced(t *testing.T) {
	base := simCase{seed: 8, receivers: raceSize(20, 8), chunks: 10, blockSize: 64, rate: 6_000_000, link: simnet.Link{Loss: 0.02}}
	ref := runSim(t, base)
	c := base
	c.replaceAt = ref.lastFinish(-1) * 2 / 5
	res := runSim(t, c)
	logResult(t, t.Name(), res)
	first, second := res.senders[0].Stats(), res.senders[1].Stats()
	t.Logf("ASSERT sender 1 sent %d data+parity before dying at %v, sender 2 %d; image %d blocks; all %d receivers done at %v",
		first.DataBlocks+first.ParityBlocks, c.replaceAt, second.DataBlocks+second.ParityBlocks, res.src.blocks(c.blockSize), c.receivers, res.end)
	if second.DataBlocks+second.ParityBlocks >= uint64(res.src.blocks(c.blockSize)) {
		t.Errorf("the new sender resent the whole image: receivers did not keep what they had")
	}
}

// TestSimReceiversDie: receivers that die mid-transfer hold nobody back; the sender
// still lists them, not done.
func TestSimReceiversDie(t *testing.T) {
	c := simCase{seed: 9, receivers: 20, chunks: 8, blockSize: 64, rate: 6_000_000, link: simnet.Link{Loss: 0.02},
		dieAt: map[int]time.Duration{0: 20 * time.Millisecond, 1: 60 * time.Millisecond, 2: 100 * time.Millisecond}}
	res := runSim(t, c)
	logResult(t, t.Name(), res)
	done := 0
	for _, ri := range res.senders[0].Receivers() {
		if ri.Done {
			done++
		}
	}
	t.Logf("ASSERT sender lists %d receivers, %d done (3 died)", len(res.senders[0].Receivers()), done)
	if done != 17 {
		t.Errorf("sender counts %d done receivers, want 17", done)
	}
}

// TestSimOutlierAdaptive: as TestSimOutlier's tenth-rate case with the default adaptive
// rate: the slow receiver does not drag the rate down while others need data, and once
// it is alone the rate follows its link, so it finishes far sooner than at full rate.
func TestSimOutlierAdaptive(t *testing.T) {
	base := simCase{seed: 5, receivers: raceSize(30, 8), chunks: raceSize(40, 24), blockSize: 64, startRate: 6_000_000, maxRate: 6_000_000,
		link: simnet.Link{Loss: 0.01}}
	ref := runSim(t, base)
	refEnd := ref.lastFinish(0)
	c := base
	c.special = &simnet.Link{Loss: 0.01, Rate: 600_000, Queue: 20 * time.Millisecond}
	res := runSim(t, c)
	logResult(t, t.Name(), res)
	others := res.lastFinish(0)
	t.Logf("ASSERT others finished at %v vs %v without the outlier (x%.3f, limit 1.10); the outlier at %v",
		others, refEnd, float64(others)/float64(refEnd), res.finished[0])
	perfCheck(t, float64(others) <= 1.10*float64(refEnd), "others slowed to %v from %v", others, refEnd)
}
