package mcast

import "encoding/binary"

// Type-specific flag bits (header byte 6, bits 0..3).
const (
	flagFinal = 0x01 // announce: the chunk count is final
	flagWait  = 0x02 // announce: the sender holds data back until receivers say hello
	flagSide  = 0x01 // data: sent from the side queue (repairs for outlier receivers)
	flagDone  = 0x01 // report: every chunk delivered
	flagHello = 0x02 // report: first report of this receiver
	flagCong  = 0x04 // report: sent at once because loss rose well above the reference
	flagOut   = 0x01 // request: from a receiver that counts itself an outlier (served from the side queue)
	flagWelc  = 0x01 // ack: the nodes listed said hello (their first report) and were heard
)

// Limits that keep every packet within one datagram and every parser cheap.
const (
	maxMeta      = 1024 // announce meta bytes
	maxNeeds     = 64   // entries in one request
	maxAckNodes  = 128  // node IDs in one ack
	announceBody = 8 + 4*6 + 2 + 4 + 2
	dataBody     = 6*4 + 4
	progressBody = 4 + 4 + 2 + 2 + 4
	needLen      = 12
)

// announce describes the session; sent periodically so receivers can join at any time.
type announce struct {
	final     bool
	waiting   bool   // the sender is paused, waiting for receivers
	rate      uint64 // current pacing rate, bytes/s on the wire
	chunks    uint32 // chunk count (may grow until final)
	maxChunk  uint32 // largest chunk length in bytes
	blockSize uint32 // bytes per block
	maxParity uint32 // fec.Params.MaxParity (0 = fec default rule)
	members   uint32 // receivers the sender currently knows
	lossRef   uint16 // median recent loss of receivers, parts per 10000
	seq       uint32 // sequence number the sender's next data packet will carry
	lead      uint32 // the last lead chunks (a description of the others) are fetched first
	meta      []byte // opaque session description (image header)
}

func appendAnnounce(b []byte, h header, a *announce) []byte {
	h.typ = typeAnnounce
	if a.final {
		h.flags |= flagFinal
	}
	if a.waiting {
		h.flags |= flagWait
	}
	b = appendHeader(b, h)
	b = binary.BigEndian.AppendUint64(b, a.rate)
	b = binary.BigEndian.AppendUint32(b, a.chunks)
	b = binary.BigEndian.AppendUint32(b, a.maxChunk)
	b = binary.BigEndian.AppendUint32(b, a.blockSize)
	b = binary.BigEndian.AppendUint32(b, a.maxParity)
	b = binary.BigEndian.AppendUint32(b, a.members)
	b = binary.BigEndian.AppendUint16(b, a.lossRef)
	b = binary.BigEndian.AppendUint32(b, a.seq)
	b = binary.BigEndian.AppendUint32(b, a.lead)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.meta)))
	return append(b, a.meta...)
}

func parseAnnounce(h header, body []byte) (a announce, err error) {
	r := reader{b: body}
	a.final = h.flags&flagFinal != 0
	a.waiting = h.flags&flagWait != 0
	a.rate = r.u64()
	a.chunks = r.u32()
	a.maxChunk = r.u32()
	a.blockSize = r.u32()
	a.maxParity = r.u32()
	a.members = r.u32()
	a.lossRef = r.u16()
	a.seq = r.u32()
	a.lead = r.u32()
	n := int(r.u16())
	if n > maxMeta {
		return a, errMalformed
	}
	a.meta = r.take(n)
	if err := r.done(); err != nil {
		return a, err
	}
	if a.blockSize == 0 || a.maxChunk == 0 || a.lead > a.chunks {
		return a, errMalformed
	}
	return a, nil
}

// data carries one block (data or parity) of one chunk, with everything a receiver needs
// to place it: chunk index and length, block index. Queue lengths let receivers scale
// their re-request timers to the sender's backlog.
type data struct {
	side        bool
	seq         uint32 // per-sender packet sequence; gaps measure loss
	chunk       uint32
	chunkLen    uint32
	block       uint32 // < K: data block; >= K: parity index block-K
	queue       uint32 // packets queued at the sender (all work)
	repairQueue uint32 // packets queued ahead of a new repair
	maxParity   uint16 // the session's fec MaxParity, so a block is usable before any announce
	payload     []byte
}

func appendData(b []byte, h header, d *data) []byte {
	h.typ = typeData
	if d.side {
		h.flags |= flagSide
	}
	b = appendHeader(b, h)
	b = binary.BigEndian.AppendUint32(b, d.seq)
	b = binary.BigEndian.AppendUint32(b, d.chunk)
	b = binary.BigEndian.AppendUint32(b, d.chunkLen)
	b = binary.BigEndian.AppendUint32(b, d.block)
	b = binary.BigEndian.AppendUint32(b, d.queue)
	b = binary.BigEndian.AppendUint32(b, d.repairQueue)
	b = binary.BigEndian.AppendUint16(b, d.maxParity)
	b = append(b, 0, 0)
	return append(b, d.payload...)
}

func parseData(h header, body []byte) (d data, err error) {
	if len(body) <= dataBody {
		return d, errMalformed
	}
	d.side = h.flags&flagSide != 0
	d.seq = binary.BigEndian.Uint32(body[0:])
	d.chunk = binary.BigEndian.Uint32(body[4:])
	d.chunkLen = binary.BigEndian.Uint32(body[8:])
	d.block = binary.BigEndian.Uint32(body[12:])
	d.queue = binary.BigEndian.Uint32(body[16:])
	d.repairQueue = binary.BigEndian.Uint32(body[20:])
	d.maxParity = binary.BigEndian.Uint16(body[24:])
	d.payload = body[dataBody:]
	if d.chunkLen == 0 || body[26] != 0 || body[27] != 0 {
		return d, errMalformed
	}
	return d, nil
}

// progress is the receiver state every request and report carries, so the sender learns
// about a receiver from whatever it sends.
type progress struct {
	done   uint32 // chunks delivered
	known  uint32 // chunks the receiver knows of (announce count)
	loss   uint16 // smoothed loss, parts per 10000; lossUnknown = not measured yet
	recent uint16 // loss over the last lossWindow packets, same units
	// seen: every data packet the sender sent before this sequence number had reached
	// the receiver (or was lost) when it wrote this. A need older than the chunk's last
	// transmission may be answered by packets still on their way.
	seen uint32
}

const lossUnknown = 0xffff

func appendProgress(b []byte, p progress) []byte {
	b = binary.BigEndian.AppendUint32(b, p.done)
	b = binary.BigEndian.AppendUint32(b, p.known)
	b = binary.BigEndian.AppendUint16(b, p.loss)
	b = binary.BigEndian.AppendUint16(b, p.recent)
	return binary.BigEndian.AppendUint32(b, p.seen)
}

func (r *reader) progress() progress {
	return progress{done: r.u32(), known: r.u32(), loss: r.u16(), recent: r.u16(), seen: r.u32()}
}

// need is one entry of a request: a whole chunk (missing == 0) or "I miss n blocks".
type need struct {
	chunk      uint32
	missing    uint32 // 0 = the whole chunk
	nextParity uint32 // lowest parity index the receiver does not hold above all it holds
}

type request struct {
	progress
	outlier bool
	needs   []need
}

func appendRequest(b []byte, h header, q *request) []byte {
	h.typ = typeRequest
	if q.outlier {
		h.flags |= flagOut
	}
	b = appendHeader(b, h)
	b = appendProgress(b, q.progress)
	b = binary.BigEndian.AppendUint16(b, uint16(len(q.needs)))
	for _, n := range q.needs {
		b = binary.BigEndian.AppendUint32(b, n.chunk)
		b = binary.BigEndian.AppendUint32(b, n.missing)
		b = binary.BigEndian.AppendUint32(b, n.nextParity)
	}
	return b
}

// parseRequest appends the entries to buf (to reuse its storage).
func parseRequest(h header, body []byte, buf []need) (q request, err error) {
	r := reader{b: body}
	q.progress = r.progress()
	q.outlier = h.flags&flagOut != 0
	n := int(r.u16())
	if r.bad || n == 0 || n > maxNeeds || len(r.b) != n*needLen {
		return q, errMalformed
	}
	q.needs = buf[:0]
	for range n {
		q.needs = append(q.needs, need{chunk: r.u32(), missing: r.u32(), nextParity: r.u32()})
	}
	return q, r.done()
}

type report struct {
	progress
	hello, done, cong bool
}

func appendReport(b []byte, h header, p *report) []byte {
	h.typ = typeReport
	if p.done {
		h.flags |= flagDone
	}
	if p.hello {
		h.flags |= flagHello
	}
	if p.cong {
		h.flags |= flagCong
	}
	b = appendHeader(b, h)
	return appendProgress(b, p.progress)
}

func parseReport(h header, body []byte) (p report, err error) {
	r := reader{b: body}
	p.progress = r.progress()
	p.done = h.flags&flagDone != 0
	p.hello = h.flags&flagHello != 0
	p.cong = h.flags&flagCong != 0
	return p, r.done()
}

// ack confirms done reports (the receivers listed stop repeating theirs) or, with the
// welcome flag, hellos: a receiver that requires it follows a sender only once welcomed.
type ack struct {
	welcome bool
	nodes   []uint64
}

func appendAck(b []byte, h header, a *ack) []byte {
	h.typ = typeAck
	if a.welcome {
		h.flags |= flagWelc
	}
	b = appendHeader(b, h)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.nodes)))
	for _, n := range a.nodes {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

func parseAck(h header, body []byte, buf []uint64) (a ack, err error) {
	r := reader{b: body}
	a.welcome = h.flags&flagWelc != 0
	n := int(r.u16())
	if r.bad || n == 0 || n > maxAckNodes || len(r.b) != 8*n {
		return a, errMalformed
	}
	a.nodes = buf[:0]
	for range n {
		a.nodes = append(a.nodes, r.u64())
	}
	return a, r.done()
}
