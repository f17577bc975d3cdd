package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/session"
)

// SendStatus turns mcsend's session progress into its progress line and
// its summary. Every figure is measured: bytes are of the image (never more
// than its size), the rate is how fast the slowest receiver still in the
// session gains image bytes, repairs are counted apart.
type SendStatus struct {
	Header          func() *image.Header // the image sent (complete once known)
	BlockSize       int                  // payload bytes per data packet, to count repair bytes
	MinReceivers    int                  // for the waiting line
	ReceiverTimeout time.Duration        // a receiver silent this long counts as lost

	t0       time.Time     // wall time the session began (now - Elapsed)
	started  time.Duration // Elapsed when data began to flow; 0 before
	sawStart bool
	meter    Meter
}

// total is the image's size in bytes and chunks, 0 while it is still being made.
func (s *SendStatus) total() (int64, int) {
	if s.Header == nil {
		return 0, 0
	}
	h := s.Header()
	if h == nil || !h.Complete {
		return 0, 0
	}
	return h.StoredBytes, int(h.ChunkCount)
}

// counts are the receivers done, joined and lost, and the image bytes the
// slowest receiver still in the session holds.
func (s *SendStatus) counts(p session.SendProgress) (done, joined, lost int, imageDone int64) {
	bytes, chunks := s.total()
	now := time.Now()
	minFrac, active := 1.0, 0
	for _, r := range p.Receivers {
		switch {
		case r.Done:
			done++
		case s.ReceiverTimeout > 0 && now.Sub(r.LastHeard) > s.ReceiverTimeout:
		default:
			active++
			// The session's chunks are the image's and its manifest's:
			// a receiver's own count of them is the denominator.
			if n := max(r.ChunksKnown, chunks); chunks > 0 {
				minFrac = min(minFrac, float64(r.ChunksDone)/float64(n))
			}
		}
	}
	joined, lost = len(p.Receivers), p.Lost
	switch {
	case chunks == 0 || joined == 0:
		imageDone = 0
	case active == 0 && done > 0:
		imageDone = bytes
	default:
		imageDone = min(int64(minFrac*float64(bytes)), bytes)
		if imageDone == bytes && active > 0 {
			imageDone = bytes - 1 // not all done yet: never say 100 %
		}
	}
	return done, joined, lost, imageDone
}

// Line is the progress line for p.
func (s *SendStatus) Line(now time.Time, p session.SendProgress) string {
	done, joined, lost, imageDone := s.counts(p)
	if s.t0.IsZero() {
		s.t0 = now.Add(-p.Elapsed)
	}
	if !p.Started {
		need := ""
		if s.MinReceivers > 1 {
			need = fmt.Sprintf(" of %d", s.MinReceivers)
		}
		return fmt.Sprintf("mcsend %s: waiting for receivers, %d%s joined", Duration(p.Elapsed), joined, need)
	}
	if !s.sawStart {
		s.sawStart, s.started = true, p.Elapsed
	}
	s.meter.Add(now, imageDone)
	rate := s.meter.Rate()
	total, _ := s.total()
	parts := []string{}
	if total > 0 {
		pc := Percent(imageDone, total)
		parts = append(parts, fmt.Sprintf("mcsend %s %3d%% %s of %s", Bar(float64(pc)/100, 20), pc,
			HumanBytes(imageDone), HumanBytes(total)))
	} else {
		parts = append(parts, fmt.Sprintf("mcsend %s: sending an image still being read, %s sent", Duration(p.Elapsed), HumanBytes(int64(p.Stats.Bytes))))
	}
	parts = append(parts, HumanRate(rate),
		fmt.Sprintf("receivers %d done/%d joined/%d lost", done, joined, lost))
	if r := s.repairBytes(p); r > 0 {
		parts = append(parts, "repairs "+HumanBytes(r))
	}
	if eta := ETA(imageDone, total, rate); eta != "" {
		parts = append(parts, eta)
	}
	return strings.Join(parts, ", ")
}

func (s *SendStatus) repairBytes(p session.SendProgress) int64 {
	return int64(p.Stats.ParityBlocks) * int64(s.BlockSize)
}

// Summary is the line printed when the session ends, e.g. "3/3 receivers
// complete, 272.5 MiB in 9.8 s (27.8 MiB/s)".
func (s *SendStatus) Summary(p session.SendProgress) string {
	done, joined, lost, _ := s.counts(p)
	if !p.Started {
		return "" // the error says why nothing was sent
	}
	d := s.dataTime(p)
	total, _ := s.total()
	line := fmt.Sprintf("%d/%d receivers complete", done, joined)
	if lost > 0 {
		line += fmt.Sprintf(" (%d lost)", lost)
	}
	if done == 0 {
		return line + " after " + Duration(p.Elapsed)
	}
	if total > 0 {
		line += fmt.Sprintf(", %s in %s", HumanBytes(total), Duration(d))
		if d > 0 {
			line += " (" + HumanRate(float64(total)/d.Seconds()) + ")"
		}
	}
	if r := s.repairBytes(p); r > 0 {
		line += ", " + HumanBytes(r) + " of repairs"
	}
	return line
}

// dataTime is how long data flowed: from the start to the last receiver's
// completion (its last word), not counting --linger after it.
func (s *SendStatus) dataTime(p session.SendProgress) time.Duration {
	end := p.Elapsed
	if !s.t0.IsZero() {
		var last time.Time
		all := len(p.Receivers) > 0
		for _, r := range p.Receivers {
			all = all && r.Done
			if r.Done && r.LastHeard.After(last) {
				last = r.LastHeard
			}
		}
		if all && last.After(s.t0) {
			end = min(end, last.Sub(s.t0))
		}
	}
	return max(end-s.started, 0)
}
