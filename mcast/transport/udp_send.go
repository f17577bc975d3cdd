package transport

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/discuscast/discus/internal/udpoff"
)

// The send path: batches of datagrams out with sendmmsg, runs of equal-size ones
// as GSO buffers where the kernel allows (udp.go opens the sockets).

// Send implements Transport with sendmmsg. A full queue (ENOBUFS, EAGAIN) is
// waited out rather than reported: pacing above us decides the rate.
//
// With GSO each run of consecutive datagrams of one size (the last may be shorter;
// at most udpoff.MaxSegments and udpoff.MaxBuffer bytes) goes out as one message
// with a UDP_SEGMENT control message; the kernel or the NIC cuts it into the same
// datagrams plain sends would have made. When the datagrams of a run lie back to
// back in one array (as Drive lays them out) the run is sent from there; otherwise
// it is copied into a buffer of the transport's. If the kernel refuses GSO, Send
// logs it once, counts it and sends plain datagrams from then on.
func (t *UDP) Send(pkts [][]byte) error {
	for len(pkts) > 0 {
		if cap(t.wmsgs) < defaultBatchSize {
			t.wmsgs = make([]ipv4.Message, defaultBatchSize)
			t.wsegs = make([]int, defaultBatchSize)
			t.woob = make([][]byte, defaultBatchSize)
			t.wscratch = make([][]byte, defaultBatchSize)
			for i := range t.wmsgs {
				t.wmsgs[i].Buffers = make([][]byte, 1)
				t.woob[i] = make([]byte, udpoff.SegmentSpace)
			}
		}
		var ms []ipv4.Message
		if t.gso {
			ms = t.fillGSO(pkts)
		} else {
			n := min(len(pkts), defaultBatchSize)
			for i, p := range pkts[:n] {
				t.wmsgs[i].Buffers[0], t.wmsgs[i].OOB, t.wmsgs[i].Addr = p, nil, t.dst
				t.wsegs[i] = 1
			}
			ms = t.wmsgs[:n]
		}
		sent, err := t.writer.WriteBatch(ms, 0)
		t.stats.txCalls.Add(1)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
				t.stats.txRetries.Add(1)
				time.Sleep(100 * time.Microsecond)
				continue
			}
			if t.gso && udpoff.Refused(err) {
				// Nothing of this batch went out (sendmmsg reports an error only
				// for its first message): send it again as plain datagrams.
				t.gso = false
				t.stats.gsoFallbacks.Add(1)
				t.log.Info("mcast: the kernel refuses UDP GSO; sending plain datagrams", "err", err)
				continue
			}
			return fmt.Errorf("mcast: send to %v: %w", t.dst, err)
		}
		done := 0
		for i := range sent {
			k := t.wsegs[i]
			for _, p := range pkts[done : done+k] {
				t.stats.txBytes.Add(int64(len(p)))
			}
			if k > 1 {
				t.stats.gsoBuffers.Add(1)
				t.stats.gsoDatagrams.Add(int64(k))
			}
			done += k
		}
		t.stats.txPackets.Add(int64(done))
		pkts = pkts[done:]
	}
	return nil
}

// fillGSO lays the first runs of pkts out as up to defaultBatchSize messages and
// returns them (t.wsegs tells how many datagrams each holds).
func (t *UDP) fillGSO(pkts [][]byte) []ipv4.Message {
	n := 0
	udpoff.Runs(pkts, func(run [][]byte, seg int) {
		if n == defaultBatchSize {
			return
		}
		m := &t.wmsgs[n]
		m.Addr, m.OOB = t.dst, nil
		t.wsegs[n] = len(run)
		if len(run) == 1 {
			m.Buffers[0] = run[0]
		} else {
			buf, ok := contiguous(run)
			if !ok {
				if t.wscratch[n] == nil {
					t.wscratch[n] = make([]byte, 0, udpoff.MaxBuffer)
				}
				buf = t.wscratch[n][:0]
				for _, p := range run {
					buf = append(buf, p...)
				}
			}
			m.Buffers[0] = buf
			m.OOB = udpoff.PutSegment(t.woob[n], seg)
		}
		n++
	})
	return t.wmsgs[:n]
}

// contiguous returns run's datagrams as one slice when they lie back to back in
// one array (Drive's send buffer), without copying.
func contiguous(run [][]byte) ([]byte, bool) {
	total := 0
	for _, p := range run {
		if len(p) == 0 {
			return nil, false
		}
		total += len(p)
	}
	first := run[0]
	if cap(first) < total {
		return nil, false
	}
	whole := first[:total]
	off := len(first)
	for _, p := range run[1:] {
		if &whole[off] != &p[0] {
			return nil, false
		}
		off += len(p)
	}
	return whole, true
}
