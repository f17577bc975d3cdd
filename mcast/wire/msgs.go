package wire

import "encoding/binary"

// Type-specific flag bits (header byte 6, bits 0..3).
const (
	FlagFinal      = 0x01 // announce: the chunk count is final
	FlagWaiting    = 0x02 // announce: the sender holds data back until receivers say hello
	FlagSide       = 0x01 // data: sent from the side queue (repairs for outlier receivers)
	FlagDone       = 0x01 // report: every chunk delivered
	FlagHello      = 0x02 // report: first report of this receiver
	FlagCongestion = 0x04 // report: sent at once because loss rose well above the reference
	FlagOutlier    = 0x01 // request: from a receiver that counts itself an outlier (served from the side queue)
	FlagWelcome    = 0x01 // ack: the nodes listed said hello (their first report) and were heard
)

// Limits that keep every packet within one datagram and every parser cheap.
const (
	MaxMeta      = 1024 // announce meta bytes
	MaxNeeds     = 64   // entries in one request
	MaxAckNodes  = 128  // node IDs in one ack
	announceBody = 8 + 4*6 + 2 + 4 + 2
	dataBody     = 6*4 + 4
	progressBody = 4 + 4 + 2 + 2 + 4
	needLen      = 12
)

// Announce describes the session; sent periodically so receivers can join at any time.
type Announce struct {
	Final     bool
	Waiting   bool   // the sender is paused, waiting for receivers
	Rate      uint64 // current pacing rate, bytes/s on the wire
	Chunks    uint32 // chunk count (may grow until final)
	MaxChunk  uint32 // largest chunk length in bytes
	BlockSize uint32 // bytes per block
	MaxParity uint32 // fec.Params.MaxParity (0 = fec default rule)
	Members   uint32 // receivers the sender currently knows
	LossRef   uint16 // median recent loss of receivers, parts per 10000
	Seq       uint32 // sequence number the sender's next data packet will carry
	Lead      uint32 // the last lead chunks (a description of the others) are fetched first
	Meta      []byte // opaque session description (image header)
}

func AppendAnnounce(b []byte, h Header, a *Announce) []byte {
	h.Type = TypeAnnounce
	if a.Final {
		h.Flags |= FlagFinal
	}
	if a.Waiting {
		h.Flags |= FlagWaiting
	}
	b = AppendHeader(b, h)
	b = binary.BigEndian.AppendUint64(b, a.Rate)
	b = binary.BigEndian.AppendUint32(b, a.Chunks)
	b = binary.BigEndian.AppendUint32(b, a.MaxChunk)
	b = binary.BigEndian.AppendUint32(b, a.BlockSize)
	b = binary.BigEndian.AppendUint32(b, a.MaxParity)
	b = binary.BigEndian.AppendUint32(b, a.Members)
	b = binary.BigEndian.AppendUint16(b, a.LossRef)
	b = binary.BigEndian.AppendUint32(b, a.Seq)
	b = binary.BigEndian.AppendUint32(b, a.Lead)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Meta)))
	return append(b, a.Meta...)
}

func ParseAnnounce(h Header, body []byte) (a Announce, err error) {
	r := reader{b: body}
	a.Final = h.Flags&FlagFinal != 0
	a.Waiting = h.Flags&FlagWaiting != 0
	a.Rate = r.u64()
	a.Chunks = r.u32()
	a.MaxChunk = r.u32()
	a.BlockSize = r.u32()
	a.MaxParity = r.u32()
	a.Members = r.u32()
	a.LossRef = r.u16()
	a.Seq = r.u32()
	a.Lead = r.u32()
	n := int(r.u16())
	if n > MaxMeta {
		return a, errMalformed
	}
	a.Meta = r.take(n)
	if err := r.done(); err != nil {
		return a, err
	}
	if a.BlockSize == 0 || a.MaxChunk == 0 || a.Lead > a.Chunks {
		return a, errMalformed
	}
	return a, nil
}

// Data carries one block (Data or parity) of one chunk, with everything a receiver needs
// to place it: chunk index and length, block index. Queue lengths let receivers scale
// their re-request timers to the sender's backlog.
type Data struct {
	Side        bool
	Seq         uint32 // per-sender packet sequence; gaps measure loss
	Chunk       uint32
	ChunkLen    uint32
	Block       uint32 // < K: data block; >= K: parity index block-K
	Queue       uint32 // packets queued at the sender (all work)
	RepairQueue uint32 // packets queued ahead of a new repair
	MaxParity   uint16 // the session's fec MaxParity, so a block is usable before any announce
	Payload     []byte
}

func AppendData(b []byte, h Header, d *Data) []byte {
	h.Type = TypeData
	if d.Side {
		h.Flags |= FlagSide
	}
	b = AppendHeader(b, h)
	b = binary.BigEndian.AppendUint32(b, d.Seq)
	b = binary.BigEndian.AppendUint32(b, d.Chunk)
	b = binary.BigEndian.AppendUint32(b, d.ChunkLen)
	b = binary.BigEndian.AppendUint32(b, d.Block)
	b = binary.BigEndian.AppendUint32(b, d.Queue)
	b = binary.BigEndian.AppendUint32(b, d.RepairQueue)
	b = binary.BigEndian.AppendUint16(b, d.MaxParity)
	b = append(b, 0, 0)
	return append(b, d.Payload...)
}

func ParseData(h Header, body []byte) (d Data, err error) {
	if len(body) <= dataBody {
		return d, errMalformed
	}
	d.Side = h.Flags&FlagSide != 0
	d.Seq = binary.BigEndian.Uint32(body[0:])
	d.Chunk = binary.BigEndian.Uint32(body[4:])
	d.ChunkLen = binary.BigEndian.Uint32(body[8:])
	d.Block = binary.BigEndian.Uint32(body[12:])
	d.Queue = binary.BigEndian.Uint32(body[16:])
	d.RepairQueue = binary.BigEndian.Uint32(body[20:])
	d.MaxParity = binary.BigEndian.Uint16(body[24:])
	d.Payload = body[dataBody:]
	if d.ChunkLen == 0 || body[26] != 0 || body[27] != 0 {
		return d, errMalformed
	}
	return d, nil
}

// Progress is the receiver state every request and report carries, so the sender learns
// about a receiver from whatever it sends.
type Progress struct {
	Done   uint32 // chunks delivered
	Known  uint32 // chunks the receiver knows of (announce count)
	Loss   uint16 // smoothed loss, parts per 10000; lossUnknown = not measured yet
	Recent uint16 // loss over the last lossWindow packets, same units
	// Seen: every data packet the sender sent before this sequence number had reached
	// the receiver (or was lost) when it wrote this. A need older than the chunk's last
	// transmission may be answered by packets still on their way.
	Seen uint32
}

const LossUnknown = 0xffff

func appendProgress(b []byte, p Progress) []byte {
	b = binary.BigEndian.AppendUint32(b, p.Done)
	b = binary.BigEndian.AppendUint32(b, p.Known)
	b = binary.BigEndian.AppendUint16(b, p.Loss)
	b = binary.BigEndian.AppendUint16(b, p.Recent)
	return binary.BigEndian.AppendUint32(b, p.Seen)
}

func (r *reader) progress() Progress {
	return Progress{Done: r.u32(), Known: r.u32(), Loss: r.u16(), Recent: r.u16(), Seen: r.u32()}
}

// Need is one entry of a request: a whole chunk (missing == 0) or "I miss n blocks".
type Need struct {
	Chunk      uint32
	Missing    uint32 // 0 = the whole chunk
	NextParity uint32 // lowest parity index the receiver does not hold above all it holds
}

type Request struct {
	Progress
	Outlier bool
	Needs   []Need
}

func AppendRequest(b []byte, h Header, q *Request) []byte {
	h.Type = TypeRequest
	if q.Outlier {
		h.Flags |= FlagOutlier
	}
	b = AppendHeader(b, h)
	b = appendProgress(b, q.Progress)
	b = binary.BigEndian.AppendUint16(b, uint16(len(q.Needs)))
	for _, n := range q.Needs {
		b = binary.BigEndian.AppendUint32(b, n.Chunk)
		b = binary.BigEndian.AppendUint32(b, n.Missing)
		b = binary.BigEndian.AppendUint32(b, n.NextParity)
	}
	return b
}

// ParseRequest appends the entries to buf (to reuse its storage).
func ParseRequest(h Header, body []byte, buf []Need) (q Request, err error) {
	r := reader{b: body}
	q.Progress = r.progress()
	q.Outlier = h.Flags&FlagOutlier != 0
	n := int(r.u16())
	if r.bad || n == 0 || n > MaxNeeds || len(r.b) != n*needLen {
		return q, errMalformed
	}
	q.Needs = buf[:0]
	for range n {
		q.Needs = append(q.Needs, Need{Chunk: r.u32(), Missing: r.u32(), NextParity: r.u32()})
	}
	return q, r.done()
}

type Report struct {
	Progress
	Hello, Done, Congestion bool
	// Alias names the receiver across its restarts on the same machine and target
	// (version 5), 0 = none: a keyed receiver's node ID is fresh every run, so a sender
	// takes a later receiver with the same alias for the earlier one started again.
	Alias uint64
}

func AppendReport(b []byte, h Header, p *Report) []byte {
	h.Type = TypeReport
	if p.Done {
		h.Flags |= FlagDone
	}
	if p.Hello {
		h.Flags |= FlagHello
	}
	if p.Congestion {
		h.Flags |= FlagCongestion
	}
	b = AppendHeader(b, h)
	b = appendProgress(b, p.Progress)
	return binary.BigEndian.AppendUint64(b, p.Alias)
}

func ParseReport(h Header, body []byte) (p Report, err error) {
	r := reader{b: body}
	p.Progress = r.progress()
	p.Alias = r.u64()
	p.Done = h.Flags&FlagDone != 0
	p.Hello = h.Flags&FlagHello != 0
	p.Congestion = h.Flags&FlagCongestion != 0
	return p, r.done()
}

// Ack confirms done reports (the receivers listed stop repeating theirs) or, with the
// welcome flag, hellos: a receiver that requires it follows a sender only once welcomed.
type Ack struct {
	Welcome bool
	Nodes   []uint64
}

func AppendAck(b []byte, h Header, a *Ack) []byte {
	h.Type = TypeAck
	if a.Welcome {
		h.Flags |= FlagWelcome
	}
	b = AppendHeader(b, h)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Nodes)))
	for _, n := range a.Nodes {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

func ParseAck(h Header, body []byte, buf []uint64) (a Ack, err error) {
	r := reader{b: body}
	a.Welcome = h.Flags&FlagWelcome != 0
	n := int(r.u16())
	if r.bad || n == 0 || n > MaxAckNodes || len(r.b) != 8*n {
		return a, errMalformed
	}
	a.Nodes = buf[:0]
	for range n {
		a.Nodes = append(a.Nodes, r.u64())
	}
	return a, r.done()
}
