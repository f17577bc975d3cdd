package session

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/discuscast/discus/mcast"
)

// The sender's status file (SendConfig.StatusFile, mcsend --status): the heartbeat
// Frisbee and UFTP give their operators, rewritten every second (a temporary file
// renamed over the old one, so a reader never sees half a file). Keys are snake_case
// with units in their names; 64-bit IDs are hex strings (jq reads JSON numbers as
// doubles); times are RFC 3339.

// statusEvery is how often the status file is rewritten.
const statusEvery = time.Second

// SendStatus is the content of the status file.
type SendStatus struct {
	Time                  string           `json:"time"`
	ImageID               string           `json:"image_id"`
	SenderNodeID          string           `json:"sender_node_id"`
	State                 string           `json:"state"` // waiting, sending, idle (serving, nobody at work), ended
	Serve                 bool             `json:"serve"`
	Error                 string           `json:"error,omitempty"` // why it ended, when it failed
	ElapsedSeconds        float64          `json:"elapsed_seconds"`
	PacingRateBytesPerS   int64            `json:"pacing_rate_bytes_per_s"` // the rate control's target, not a measurement
	SentBytes             uint64           `json:"sent_bytes"`
	Chunks                int              `json:"chunks"` // session chunks known (the image's and its manifest's)
	ReceiversJoined       int              `json:"receivers_joined"`
	ReceiversActive       int              `json:"receivers_active"`
	ReceiversDone         int              `json:"receivers_done"`
	ReceiversLost         int              `json:"receivers_lost"`
	Receivers             []ReceiverStatus `json:"receivers"`
	StatusIntervalSeconds float64          `json:"status_interval_seconds"`
}

// ReceiverStatus is one receiver in the status file.
type ReceiverStatus struct {
	NodeID      string `json:"node_id"`
	Address     string `json:"address"` // source address of its latest packet ("" if unknown)
	State       string `json:"state"`   // joining, receiving, done, lost
	ChunksDone  int    `json:"chunks_done"`
	ChunksKnown int    `json:"chunks_known"`
	// BytesDoneEst is chunks_done times the session's mean chunk size: the sender
	// knows how many chunks a receiver holds, not which.
	BytesDoneEst  int64   `json:"bytes_done_est"`
	LossRatio     float64 `json:"loss_ratio"`       // its last reported loss, 0..1
	RateBytesPerS float64 `json:"rate_bytes_per_s"` // bytes_done_est per second over the last status interval
	Outlier       bool    `json:"outlier"`
	FirstHeard    string  `json:"first_heard_at"`
	LastHeard     string  `json:"last_heard_at"`
}

// sessionBytes is implemented by sources that know their total chunk bytes.
type sessionBytes interface{ SessionBytes() int64 }

// statusWriter keeps the status file; nil when there is none.
type statusWriter struct {
	path  string
	sid   [16]byte
	serve bool
	s     *mcast.Sender
	src   mcast.ChunkSource
	start time.Time
	next  time.Time
	prev  map[uint64]rateSample
	queue chan []byte // the writer goroutine's input: the loop never waits for the disk
	done  chan struct{}
}

type rateSample struct {
	at    time.Time
	bytes int64
}

func newStatusWriter(cfg SendConfig, s *mcast.Sender, src mcast.ChunkSource, start time.Time) *statusWriter {
	if cfg.StatusFile == "" {
		return nil
	}
	w := &statusWriter{path: cfg.StatusFile, sid: cfg.Sender.SessionID, serve: cfg.Serve, s: s, src: src, start: start,
		prev: map[uint64]rateSample{}, queue: make(chan []byte, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for b := range w.queue {
			_ = writeFileAtomic(w.path, b) // a status file that cannot be written must not stop a session
		}
	}()
	return w
}

// update rewrites the status file when it is due.
func (w *statusWriter) update(now time.Time, rs []mcast.ReceiverInfo, pol *sendPolicy, started bool) {
	if w == nil || now.Before(w.next) {
		return
	}
	w.next = now.Add(statusEvery)
	b := w.render(now, rs, pol, started, false, nil)
	select {
	case w.queue <- b:
	default: // the last one is still being written: skip this one
	}
}

// finish writes the final status and waits for it.
func (w *statusWriter) finish(now time.Time, rs []mcast.ReceiverInfo, pol *sendPolicy, err error) {
	if w == nil {
		return
	}
	close(w.queue)
	<-w.done
	_ = writeFileAtomic(w.path, w.render(now, rs, pol, true, true, err))
}

func (w *statusWriter) render(now time.Time, rs []mcast.ReceiverInfo, pol *sendPolicy, started, final bool, end error) []byte {
	st := w.s.Stats()
	chunks, _ := w.src.ChunkCount()
	mean := int64(0)
	if sb, ok := w.src.(sessionBytes); ok && chunks > 0 {
		mean = sb.SessionBytes() / int64(chunks)
	} else if mc, ok := w.src.(maxChunker); ok {
		mean = int64(mc.MaxChunkSize())
	}
	out := SendStatus{
		Time: now.UTC().Format(time.RFC3339), ImageID: fmt.Sprintf("%x", w.sid[:]),
		SenderNodeID: fmt.Sprintf("%016x", w.s.NodeID()), Serve: w.serve,
		ElapsedSeconds: now.Sub(w.start).Seconds(), PacingRateBytesPerS: st.Rate, SentBytes: st.Bytes, Chunks: chunks,
		ReceiversJoined: len(rs), Receivers: make([]ReceiverStatus, 0, len(rs)),
		StatusIntervalSeconds: statusEvery.Seconds(),
	}
	for _, r := range rs {
		rst := ReceiverStatus{
			NodeID: fmt.Sprintf("%016x", r.NodeID), ChunksDone: r.ChunksDone, ChunksKnown: r.ChunksKnown,
			BytesDoneEst: int64(r.ChunksDone) * mean, LossRatio: r.Loss, Outlier: r.Outlier,
			FirstHeard: r.FirstHeard.UTC().Format(time.RFC3339), LastHeard: r.LastHeard.UTC().Format(time.RFC3339),
		}
		if r.Addr.IsValid() {
			rst.Address = r.Addr.String()
		}
		switch {
		case r.Done:
			rst.State = "done"
			out.ReceiversDone++
		case pol.isLost(r.NodeID):
			rst.State = "lost"
			out.ReceiversLost++
		case r.ChunksDone == 0:
			rst.State = "joining"
			out.ReceiversActive++
		default:
			rst.State = "receiving"
			out.ReceiversActive++
		}
		p, seen := w.prev[r.NodeID]
		if dt := now.Sub(p.at).Seconds(); seen && dt > 0 {
			rst.RateBytesPerS = max(float64(rst.BytesDoneEst-p.bytes), 0) / dt
		}
		if r.Done {
			rst.RateBytesPerS = 0
		}
		w.prev[r.NodeID] = rateSample{at: now, bytes: rst.BytesDoneEst}
		out.Receivers = append(out.Receivers, rst)
	}
	switch {
	case final:
		out.State = "ended"
		if end != nil {
			out.Error = end.Error()
		}
	case !started:
		out.State = "waiting"
	case out.ReceiversActive == 0 && w.serve:
		out.State = "idle"
	case out.ReceiversActive == 0:
		out.State = "ending" // lingering for the last acknowledgements
	default:
		out.State = "sending"
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return append(b, '\n')
}

// writeFileAtomic writes b to a temporary file beside path and renames it over path.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
