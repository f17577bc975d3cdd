package cli

import (
	"fmt"
	"time"
)

// Meter measures a rate from a growing counter over a sliding window, so a
// progress line shows what really moved (goodput), not a pacing target.
type Meter struct {
	Window  time.Duration // 0 = 5 s
	samples []sample
}

type sample struct {
	t time.Time
	v int64
}

// Add records the counter's value at t.
func (m *Meter) Add(t time.Time, v int64) {
	w := m.Window
	if w == 0 {
		w = 5 * time.Second
	}
	m.samples = append(m.samples, sample{t, v})
	// Keep one sample at or before the window's start, so the rate covers a
	// whole window once there is one.
	i := 0
	for i+1 < len(m.samples) && t.Sub(m.samples[i+1].t) >= w {
		i++
	}
	m.samples = m.samples[i:]
}

// Rate is the counter's change per second over the window (0 until two
// samples are apart).
func (m *Meter) Rate() float64 {
	if len(m.samples) < 2 {
		return 0
	}
	a, b := m.samples[0], m.samples[len(m.samples)-1]
	dt := b.t.Sub(a.t).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(b.v-a.v) / dt
}

// ETA is how long the rest takes at rate, "" when that means nothing: no
// total, nothing left, or no measured rate yet.
func ETA(done, total int64, rate float64) string {
	if total <= 0 || done >= total || rate <= 0 {
		return ""
	}
	d := time.Duration(float64(total-done) / rate * float64(time.Second))
	if d > 100*time.Hour {
		return ""
	}
	return "ETA " + Duration(d)
}

// Duration formats d for people: "9.8 s", "2m05s", "1h02m".
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// HumanRate formats bytes per second.
func HumanRate(bps float64) string { return HumanBytes(int64(bps)) + "/s" }

// Percent is done of total as a whole percentage, never above 100, and 100
// only when done is total.
func Percent(done, total int64) int {
	if total <= 0 {
		return 0
	}
	done = min(max(done, 0), total)
	p := int(100 * done / total)
	if p == 100 && done < total {
		p = 99
	}
	return p
}
