package congestion

import (
	"testing"
	"time"
)

func TestCongestedThreshold(t *testing.T) {
	for _, c := range []struct {
		loss, floor float64
		want        bool
	}{
		{0.019, 0, false}, {0.021, 0, true}, // 2 points above a clean path
		{0.05, 0.04, false}, {0.061, 0.04, true}, // max(2 %, F/2 = 2 %, noise 2.5 %): 6.5 %? see below
		{0.14, 0.10, false}, {0.151, 0.10, true}, // F/2 = 5 points
	} {
		// The threshold is F + max(2 %, F/2, 2·sqrt(F/256)).
		if c.floor == 0.04 {
			c.want = c.loss > 0.04+0.025
		}
		if got := Congested(c.loss, c.floor); got != c.want {
			t.Errorf("Congested(%v, %v) = %v", c.loss, c.floor, got)
		}
	}
}

func TestIsOutlier(t *testing.T) {
	if IsOutlier(0.05, 0.01) || !IsOutlier(0.061, 0.01) || IsOutlier(0.39, 0.2) || !IsOutlier(0.41, 0.2) {
		t.Fatal("outlier: loss > max(2·ref, ref + 5 %)")
	}
}

func TestReportInterval(t *testing.T) {
	// 1000 receivers at 100,000 packets/s: 1001 / (0.001 · 1e5) = 10.01 s, capped at 10 s.
	if d := ReportInterval(1001, 1e5); d != MaxReportInterval {
		t.Errorf("1001 receivers: %v", d)
	}
	if d := ReportInterval(301, 1e5); d != 3010*time.Millisecond {
		t.Errorf("301 receivers: %v, want 3.01s", d)
	}
	if d := ReportInterval(2, 1e5); d != MinReportInterval {
		t.Errorf("2 receivers: %v", d)
	}
	if d := ReportInterval(2, 0); d != MaxReportInterval {
		t.Errorf("no rate: %v", d)
	}
	if w := RefWindow(301, 1e5); w != 6020*time.Millisecond {
		t.Errorf("RefWindow %v, want 2 × 3.01 s", w)
	}
	if w := RefWindow(2, 1e5); w != 2*time.Second {
		t.Errorf("RefWindow %v, want the 2 s minimum", w)
	}
}

func TestMedianLoss(t *testing.T) {
	if _, ok := MedianLoss(nil, 0); ok {
		t.Error("no losses: no reference")
	}
	// One report of three receivers at work is not the receivers' voice.
	if _, ok := MedianLoss([]float64{0.3}, 3); ok {
		t.Error("1 of 3 measured: no reference")
	}
	if ref, ok := MedianLoss([]float64{0.3, 0.01}, 4); !ok || ref != 0.01 {
		t.Errorf("2 of 4 measured: %v %v, want the lower middle 0.01", ref, ok)
	}
	l := []float64{0.5, 0.02, 0.01, 0.03, 0.04}
	if ref, ok := MedianLoss(l, 5); !ok || ref != 0.03 {
		t.Errorf("median of 5: %v %v, want 0.03", ref, ok)
	}
	if l[0] != 0.01 || l[4] != 0.5 {
		t.Errorf("sorted in place: %v", l)
	}
}

func TestMarkOutlier(t *testing.T) {
	for _, c := range []struct {
		loss, ref float64
		have      bool
		others    int
		want      bool
	}{
		{0.9, 0.01, true, 0, false},  // a lone receiver is nobody's outlier
		{0.9, 0, false, 0, false},    // nor before a reference
		{0.26, 0, false, 1, true},    // no reference: the absolute 25 %
		{0.24, 0, false, 3, false},   //
		{0.061, 0.01, true, 2, true}, // reference: IsOutlier
		{0.05, 0.01, true, 2, false}, //
	} {
		if got := MarkOutlier(c.loss, c.ref, c.have, c.others); got != c.want {
			t.Errorf("MarkOutlier(%v, %v, %v, %d) = %v", c.loss, c.ref, c.have, c.others, got)
		}
	}
}
