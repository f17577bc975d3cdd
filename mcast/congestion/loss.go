package congestion

// LossMeter measures loss from the sender's packet sequence numbers: every LossWindow
// expected packets give a sample, smoothed with weight 1/4. The zero value is ready.
type LossMeter struct {
	next      uint32
	init      bool
	got, lost int
	lostTotal uint64
	loss      float64 // smoothed
	last      float64 // the last window's
	prev      float64 // the one before
	windows   int
	// A sequence number far from the expected one (a flipped bit, a forged packet) is
	// one outlier, not millions of lost packets: it is held as a suspect, and only a
	// second packet just after it (the stream really moved: a long outage) moves the
	// meter there, counting at most one window as lost.
	suspect    uint32
	hasSuspect bool
	outliers   uint64
}

// MaxSeqJump is how far (in packets) from the expected sequence number a data packet
// may be and still be taken at its word: 4 loss windows, ~15 ms at 100 MB/s.
const MaxSeqJump = 4 * LossWindow

// Loss is the smoothed loss rate (0..1).
func (m *LossMeter) Loss() float64 { return m.loss }

// Last is the loss of the last complete window, Prev the one before.
func (m *LossMeter) Last() float64 { return m.last }

// Prev is the loss of the window before the last.
func (m *LossMeter) Prev() float64 { return m.prev }

// Windows is the number of complete windows measured.
func (m *LossMeter) Windows() int { return m.windows }

// Lost is the number of packets counted lost in all.
func (m *LossMeter) Lost() uint64 { return m.lostTotal }

// Outliers is the number of sequence numbers far outside the expected window, not
// counted as loss.
func (m *LossMeter) Outliers() uint64 { return m.outliers }

// Reset forgets the stream's position (a new sender), keeping the measured loss.
func (m *LossMeter) Reset() { m.init, m.got, m.lost, m.hasSuspect = false, 0, 0, false }

// Add takes a data packet's sequence number; it reports whether the number is the
// stream's position (false: a late or duplicate packet, or an outlier).
func (m *LossMeter) Add(seq uint32) bool {
	if !m.init {
		m.init, m.next = true, seq+1
		m.got++
		return true
	}
	d := int32(seq - m.next)
	if d > MaxSeqJump || d < -MaxSeqJump {
		if !m.hasSuspect || int32(seq-m.suspect) <= 0 || int32(seq-m.suspect) > MaxSeqJump {
			m.suspect, m.hasSuspect = seq, true
			m.outliers++
			return false
		}
		// Confirmed: the stream is there now. A forward gap counts as one window lost
		// (an outage, not congestion to be measured packet by packet).
		m.hasSuspect = false
		d = max(min(d, LossWindow), 0)
	} else if d < 0 {
		return false // late or duplicate: not new information
	}
	m.hasSuspect = false
	m.lost += int(d)
	m.lostTotal += uint64(d)
	m.got++
	m.next = seq + 1
	if n := m.got + m.lost; n >= LossWindow {
		s := float64(m.lost) / float64(n)
		m.prev, m.last = m.last, s
		if m.windows == 0 {
			m.loss = s
		} else {
			m.loss += (s - m.loss) / 4
		}
		m.windows++
		m.got, m.lost = 0, 0
	}
	return true
}
