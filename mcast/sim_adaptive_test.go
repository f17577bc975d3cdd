package mcast_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/discuscast/discus/mcast/simnet"
)

// TestSimAdaptiveBottleneck: every receiver sits behind a 1.5 MB/s link; the adaptive
// sender starts at 6 MB/s, must back off to about the bottleneck, and everyone finishes.
// One run's goodput depends on chance: 12 seeds at c8d3f9f gave 24 % to 82 %, in two
// groups (runs whose early overshoot loses whole queues back off too far; a weakness
// of the rate control left for the congestion-control rework of issue 11). So the
// bound is on the median of nine seeds, and every run must finish.
func TestSimAdaptiveBottleneck(t *testing.T) {
	const bottleneck = 1_500_000
	var goodputs []float64
	for seed := uint64(31); seed < 40; seed++ {
		c := simCase{seed: seed, receivers: raceSize(10, 5), chunks: raceSize(24, 12), blockSize: 64, startRate: 6_000_000, maxRate: 50_000_000,
			link: simnet.Link{Rate: bottleneck, Queue: 20 * time.Millisecond}}
		res := runSim(t, c)
		logResult(t, fmt.Sprintf("%s/seed%d", t.Name(), seed), res)
		wire := float64(res.src.blocks(c.blockSize)) * float64(c.blockSize+60)
		goodputs = append(goodputs, wire/res.lastFinish(-1).Seconds())
	}
	slices.Sort(goodputs)
	median := goodputs[len(goodputs)/2]
	t.Logf("ASSERT median goodput %.0f B/s = %.0f%% of the %d B/s bottleneck (want >= 40%%); runs %.0f%% .. %.0f%%",
		median, 100*median/bottleneck, bottleneck, 100*goodputs[0]/bottleneck, 100*goodputs[len(goodputs)-1]/bottleneck)
	perfCheck(t, median >= 0.4*bottleneck, "median goodput %.0f B/s is under 40 %% of the bottleneck", median)
}

// TestSimAdaptiveLossFloor: 3 % random loss on every link is not congestion: the rate
// keeps growing from its start.
func TestSimAdaptiveLossFloor(t *testing.T) {
	c := simCase{seed: 32, receivers: raceSize(10, 5), chunks: raceSize(30, 16), blockSize: 64, startRate: 1_000_000, maxRate: 20_000_000,
		link: simnet.Link{Loss: 0.03}}
	res := runSim(t, c)
	logResult(t, t.Name(), res)
	t.Logf("ASSERT rate %d B/s at the end, started at %d (want >= 2.5x)", res.sender.Rate, c.startRate)
	perfCheck(t, res.sender.Rate >= 5*c.startRate/2, "rate %d did not grow under a constant 3%% loss", res.sender.Rate)
}

// TestSimSlowStartLossy: at 5 % random loss slow start must not end on the sampling
// noise of the first loss windows (a 256-packet window at 8 % on a 5 % path): the rate
// climbs from 1 MB/s to its 32 MB/s ceiling, where 4 % per 50 ms would reach ~4 MB/s.
func TestSimSlowStartLossy(t *testing.T) {
	c := simCase{seed: 33, receivers: raceSize(10, 5), chunks: raceSize(30, 16), blockSize: 64, startRate: 1_000_000, maxRate: 32_000_000,
		link: simnet.Link{Loss: 0.05}}
	res := runSim(t, c)
	logResult(t, t.Name(), res)
	t.Logf("ASSERT rate %d B/s at the end, started at %d, ceiling %d (want >= half the ceiling)", res.sender.Rate, c.startRate, c.maxRate)
	perfCheck(t, res.sender.Rate >= c.maxRate/2, "rate %d: slow start ended on noise", res.sender.Rate)
}
