package mcast

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/discuscast/discus/fec"
)

// A rebuilt chunk that Deliver rejects (checksum, manifest) had at least one bad block,
// but which one is unknown. The rule (docs/PROTOCOL.md §3 item 2): the first time a
// chunk rebuilt with parity is rejected, its received data blocks are kept and the
// parity dropped (fresh parity is asked for); a chunk of data blocks only, or one
// rejected again, starts from nothing. Each rejection of the same chunk doubles the
// wait before asking again (from rtoFull, at most maxRejectWait), and maxRejects
// rejections of one chunk stop the receiver: the sender keeps sending a chunk that
// fails verification.
const (
	maxRejects    = 32
	maxRejectWait = int64(time.Second) // a forger keeps poisoning: a longer wait only slows the session
	maxRejectMap  = 4096
)

// noteReceived records which data blocks of p were received, before its first rebuild.
func (r *Receiver) noteReceived(p *partial) {
	if p.recv != nil {
		return
	}
	k := p.dec.K()
	p.recv = make([]uint64, (k+63)/64)
	for i := range k {
		if p.dec.Has(i) {
			p.recv[i/64] |= 1 << (i % 64)
		}
	}
}

// rejected handles a rebuild Deliver refused (b is the rebuilt chunk, nil if the
// rebuild itself failed).
func (r *Receiver) rejected(p *partial, b []byte, cause error, t int64) {
	if r.rejects == nil {
		r.rejects = make(map[uint32]int)
	}
	if len(r.rejects) >= maxRejectMap {
		clear(r.rejects)
	}
	r.rejects[p.chunk]++
	n := r.rejects[p.chunk]
	if n >= maxRejects {
		r.fail(fmt.Errorf("%w: chunk %d rejected %d times: %w", ErrSession, p.chunk, n, cause))
		return
	}
	k, bs := p.dec.K(), p.dec.BlockSize()
	got := 0
	for _, w := range p.recv {
		got += bits.OnesCount64(w)
	}
	var dec *fec.Decoder
	if b != nil && n == 1 && got < k && got > 0 {
		dec, _ = fec.NewDecoder(fec.Params{BlockSize: bs, MaxParity: int(p.maxParity)}, int(p.chunkLen))
	}
	if dec != nil {
		for i := range k {
			if p.recv[i/64]&(1<<(i%64)) != 0 {
				if _, err := dec.Add(i, b[i*bs:min((i+1)*bs, len(b))]); err != nil {
					dec = nil
					break
				}
			}
		}
	}
	if dec != nil {
		p.dec.Release()
		p.dec = dec
		r.stats.KeptBlocks += uint64(got)
	} else {
		p.dec.Reset()
	}
	p.recv = nil
	p.sampling = false
	p.due = 0
	if n > 1 {
		p.due = t + min(r.rtoFull()<<min(n-2, 16), maxRejectWait)
	}
}
