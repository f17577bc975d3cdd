package session

import (
	"errors"
	"testing"
	"time"
)

// TestRecvPolicyNotWaiting: no data while the receiver expects none (every chunk it
// lacks is complete and waits for its disk) is no lost sender, however long the disk
// takes; once it expects data again the receive timeout runs from then.
func TestRecvPolicyNotWaiting(t *testing.T) {
	p := newRecvPolicy(0, 60*time.Second, t0)
	v := recvView{Joined: true, Heard: 10, Blocks: 100, Waiting: true}
	p.Step(t0.Add(time.Second), v)
	v.Waiting = false
	for s := 2; s < 300; s += 5 {
		v.Heard++ // the sender's announces
		if st, _ := p.Step(t0.Add(time.Duration(s)*time.Second), v); st.End {
			t.Fatalf("writing a backlog, %d s without data: %+v", s, st)
		}
	}
	v.Waiting = true
	v.Heard++
	p.Step(t0.Add(300*time.Second), v)
	v.Heard++
	st, next := p.Step(t0.Add(330*time.Second), v)
	if st.End || !next.Equal(t0.Add(357*time.Second)) {
		t.Fatalf("waiting again for 30 s: %+v next %v", st, next)
	}
	if st, _ := p.Step(next, v); !errors.Is(st.Err, ErrSenderLost) {
		t.Fatalf("waiting again for 60 s: %+v", st)
	}
}
