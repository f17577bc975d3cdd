package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/discuscast/discus/session"
)

// RecvStatus turns mcrecv's session progress into its progress line and
// summary: image bytes verified of the image's size (never more), the
// measured rate at which they arrive, and an ETA only while one means
// something.
type RecvStatus struct {
	Target string // where the disk goes, for the summary ("/dev/sda", "standard output")

	joinedAt time.Duration // Elapsed when the session was joined
	joined   bool
	meter    Meter
}

// imageBytes is what of the image is verified and accepted, and its size
// (0 while the sender is still making it).
func imageBytes(p session.ReceiveProgress) (done, total int64) {
	done = p.Install.ChunkBytes
	if h := p.Header; h != nil && h.Complete {
		total = h.StoredBytes
		done = min(done, total)
		if done == total && p.Install.Written < int(h.ChunkCount) {
			done = total - 1 // accepted, not all written yet
		}
	}
	return done, total
}

// Line is the progress line for p.
func (s *RecvStatus) Line(now time.Time, p session.ReceiveProgress) string {
	if !p.Joined {
		return fmt.Sprintf("mcrecv %s: waiting for a sender", Duration(p.Elapsed))
	}
	if !s.joined {
		s.joined, s.joinedAt = true, p.Elapsed
	}
	done, total := imageBytes(p)
	s.meter.Add(now, done)
	rate := s.meter.Rate()
	var parts []string
	if total > 0 {
		pc := Percent(done, total)
		parts = append(parts, fmt.Sprintf("mcrecv %s %3d%% %s of %s", Bar(float64(pc)/100, 20), pc,
			HumanBytes(done), HumanBytes(total)))
	} else {
		parts = append(parts, fmt.Sprintf("mcrecv %s: %s received (the sender is still reading its source)",
			Duration(p.Elapsed), HumanBytes(done)))
	}
	parts = append(parts, HumanRate(rate), fmt.Sprintf("loss %.1f%%", 100*p.Stats.Loss))
	if p.Stats.Requests > 0 {
		parts = append(parts, fmt.Sprintf("%d requests", p.Stats.Requests))
	}
	if eta := ETA(done, total, rate); eta != "" {
		parts = append(parts, eta)
	}
	return strings.Join(parts, ", ")
}

// Summary is the line printed when the session ends: on success
// "received 272.5 MiB in 9.8 s, verified, written to /dev/vda".
func (s *RecvStatus) Summary(p session.ReceiveProgress, err error) string {
	if !p.Joined {
		return "" // the error says why
	}
	d := p.Elapsed - s.joinedAt
	done, total := imageBytes(p)
	if err == nil {
		line := fmt.Sprintf("received %s in %s", HumanBytes(done), Duration(d))
		if d > 0 {
			line += " (" + HumanRate(float64(done)/d.Seconds()) + ")"
		}
		return line + ", verified, written to " + s.Target
	}
	if total > 0 {
		return fmt.Sprintf("mcrecv: stopped with %s of %s received and verified, after %s", HumanBytes(done), HumanBytes(total), Duration(d))
	}
	return fmt.Sprintf("mcrecv: stopped with %s received and verified, after %s", HumanBytes(done), Duration(d))
}
