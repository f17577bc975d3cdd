package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/session"
)

// TestSendStatus: the line counts image bytes (never above the image),
// receivers done/joined/lost, repairs apart, and no ETA once done.
func TestSendStatus(t *testing.T) {
	h := &image.Header{Complete: true, StoredBytes: 100 << 20, ChunkCount: 100}
	st := &SendStatus{Header: func() *image.Header { return h }, BlockSize: 1000, ReceiverTimeout: time.Hour}
	now := time.Now()
	rs := []mcast.ReceiverInfo{{ChunksDone: 50, ChunksKnown: 102, LastHeard: now}, {ChunksDone: 102, ChunksKnown: 102, Done: true, LastHeard: now}}
	p := session.SendProgress{Started: true, Elapsed: 2 * time.Second, Receivers: rs}
	p.Stats.ParityBlocks = 2048
	st.Line(now.Add(-time.Second), p)
	rs[0].ChunksDone = 101 // all but one: 99 %, not 100 %
	line := st.Line(now, p)
	for _, want := range []string{" 99% ", "of 100.0 MiB", "receivers 1 done/2 joined/0 lost", "repairs 2.0 MiB", "ETA"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	rs[0].ChunksDone, rs[0].Done = 102, true
	p.Elapsed = 3 * time.Second
	line = st.Line(now.Add(time.Second), p)
	if !strings.Contains(line, "100% 100.0 MiB of 100.0 MiB") || strings.Contains(line, "ETA") {
		t.Errorf("done: %q", line)
	}
	if s := st.Summary(p); !strings.HasPrefix(s, "2/2 receivers complete, 100.0 MiB in ") || !strings.Contains(s, "2.0 MiB of repairs") {
		t.Errorf("summary %q", s)
	}
}

func TestRecvStatus(t *testing.T) {
	h := &image.Header{Complete: true, StoredBytes: 10 << 20, ChunkCount: 10}
	st := &RecvStatus{Target: "/dev/vda"}
	now := time.Now()
	p := session.ReceiveProgress{Joined: true, Header: h, Elapsed: time.Second}
	p.Install.ChunkBytes, p.Install.Written = 10<<20, 9 // accepted, not all written
	if line := st.Line(now, p); !strings.Contains(line, " 99% ") || strings.Contains(line, "ETA") {
		t.Errorf("line %q", line)
	}
	p.Install.Written, p.Elapsed = 10, 3*time.Second
	if s := st.Summary(p, nil); s != "received 10.0 MiB in 2.0 s (5.0 MiB/s), verified, written to /dev/vda" {
		t.Errorf("summary %q", s)
	}
}
