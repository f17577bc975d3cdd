package mcast

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/discuscast/discus/fec"
)

// ChunkSource is what a Sender serves: an opaque session description and numbered chunks.
type ChunkSource interface {
	// Meta is the opaque session description (the image header, at most 1 KiB). It may
	// change until the chunk count is final.
	Meta() []byte
	// ChunkCount is the number of chunks known so far and whether that number is final.
	ChunkCount() (n int, final bool)
	// Chunk returns chunk i. The sender may keep the slice until it asks again.
	Chunk(i int) ([]byte, error)
}

// leader is implemented by sources whose last chunks describe the others (an image's
// manifest): the announce's lead field tells receivers to fetch them first.
type leader interface{ Lead() int }

// Defaults for the zero values of SenderConfig and ReceiverConfig.
const (
	DefaultBlockSize        = fec.DefaultBlockSize // 1400 + 56 header bytes fit a 1500-byte MTU
	DefaultMaxChunk         = 1 << 20
	MaxChunkLimit           = 16 << 20
	DefaultMaxRate          = 1250_000_000 // adaptive ceiling: 10 Gbit/s
	DefaultStartRate        = 12_500_000   // adaptive start: 100 Mbit/s
	defaultMinRate          = 125_000      // adaptive floor: 1 Mbit/s
	defaultAnnounceInterval = 200 * time.Millisecond
	defaultSideShare        = 0.05
	defaultEncoderCache     = 8
	DefaultWindow           = 8
)

// ErrConfig reports an unusable configuration.
var ErrConfig = errors.New("mcast: invalid configuration")

// SenderConfig configures a Sender. The zero value (plus a SessionID) is a working
// adaptive sender for a 1500-byte MTU.
//
// The unexported fields are knobs no tool sets: their defaults are the protocol's, and
// only this package's tests tune them.
type SenderConfig struct {
	SessionID [16]byte // the image ID; receivers ignore every other session
	node      uint64   // this node on the wire; 0 = random from Rand

	BlockSize int // bytes per block; 0 = DefaultBlockSize (use ~8900 for 9000-byte jumbo frames)
	MaxParity int // parity indexes per chunk; 0 = the fec default rule
	MaxChunk  int // largest chunk in bytes; 0 = DefaultMaxChunk, at most MaxChunkLimit

	// MaxRate caps the wire rate in bytes/s, counting headers and parity; 0 = DefaultMaxRate.
	MaxRate int64
	// FixedRate paces at exactly MaxRate instead of adapting to reported loss.
	FixedRate bool
	StartRate int64 // adaptive start rate; 0 = min(DefaultStartRate, MaxRate)
	minRate   int64 // adaptive floor; 0 = defaultMinRate

	announceInterval time.Duration // 0 = defaultAnnounceInterval
	// sideShare is the fraction of packets that may serve repairs for outlier receivers
	// (very lossy or slow) while others still need data; 0 = defaultSideShare.
	sideShare    float64
	encoderCache int // chunks whose parity is kept; 0 = defaultEncoderCache

	// Paused starts the sender holding data back (announces and acks still go out), e.g.
	// until enough receivers have said hello; see Sender.SetPaused.
	Paused bool

	// Key, if set, is the session's shared secret (at least MinKeyLen bytes): every
	// packet then carries an authentication trailer (OnWire) and packets without a
	// valid one are dropped. nil = keyless (a CRC-32C trailer). With a key the
	// default BlockSize shrinks by AuthOverhead so data packets still fit 1500 bytes.
	Key []byte

	// FECReady, if set, reports whether parity of a GF(2^16) code can be made without
	// a long one-time setup (fec.Warm). While it returns false the sender serves whole
	// chunks before repairs that would need it, instead of stalling inside the first
	// repair. nil = always ready.
	FECReady func() bool

	Rand   *rand.Rand   // nil = seeded from the runtime's random source
	Logger *slog.Logger // nil = silent
}

// SessionInfo is what a receiver learns from the sender's announce.
type SessionInfo struct {
	SessionID [16]byte
	Sender    uint64 // node ID of the sender
	Meta      []byte // the opaque session description; valid only during the callback
	Chunks    int    // chunk count known so far
	Final     bool   // Chunks is final
	BlockSize int
	MaxParity int
	MaxChunk  int
	Rate      int64 // the sender's current rate, bytes/s
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	SessionID [16]byte // zero = join the first session heard
	// NodeID is this receiver on the wire; 0 = random from Rand. Package session sets
	// a keyless receiver's from its host and target, so that a restarted receiver is
	// the same receiver to the sender (docs/PROTOCOL.md §4.5); a keyed one stays random.
	NodeID uint64
	// Alias names this receiver across its restarts when NodeID cannot: a keyed
	// receiver's node ID is fresh every run (its welcome rests on that), so its reports
	// carry an alias, and a sender takes a later receiver with the same alias for this
	// one started again (not one lost and one new; docs/PROTOCOL.md §1.5, §4.5). 0 =
	// none. Package session derives a keyed receiver's from the key, its host and target.
	Alias uint64

	// Window is how many chunks the receiver asks for ahead; 0 = DefaultWindow.
	Window int
	// maxPartial bounds partly received chunks held in memory; 0 = 2*Window+4.
	maxPartial int
	// MaxChunks is the largest chunk count a session may announce; an announce beyond
	// it is dropped (counted as DropRange). The receiver keeps one bit per chunk, so
	// the zero value, DefaultMaxChunks (4 Mi chunks, 4 TiB at 1 MiB a chunk), costs at
	// most 512 KiB.
	MaxChunks int

	// OnSession is called when an announce would join the session, before any delivery.
	// An error refuses that description: the receiver stays unjoined (another may be
	// accepted) and stops (Err returns ErrSession) only when the same refused
	// description was announced persistently (5 times over 1 s from one node).
	OnSession func(SessionInfo) error
	// OnUpdate, if set, is called before a later announce changes the chunk count,
	// finality or meta (or, on the sender's persistent word, the geometry); an error
	// drops that announce, and stops the receiver only if the sender persists.
	OnUpdate func(SessionInfo) error
	// Deliver, if set, is called inside Handle (or Poll) with each rebuilt chunk, only
	// valid during the call: the synchronous form of Ready and Settle, whose error it
	// returns (nil, ErrDeferred, or a rejection: fetched again). With Deliver set, Ready
	// hands nothing out. nil = deliveries are outputs (Receiver.Ready).
	Deliver func(index int, chunk []byte) error
	// Key, if set, is the session's shared secret (see SenderConfig.Key). A keyed
	// receiver also requires a welcome: it joins (and follows a replacement sender)
	// only once that sender acknowledged its hello, which an old recording cannot do.
	Key []byte

	// FECReady, if set, reports whether rebuilding a chunk from parity can start without
	// a long one-time setup (fec.Warm: it also starts that setup in the background). It
	// is called when the receiver first sees a loss and while a chunk waits to be
	// rebuilt; such chunks are held, not rebuilt, until it returns true, so the setup
	// never stalls the receive loop. nil = rebuild at once. Package fec's decoders no
	// longer need such a setup (fec.Decoder.Ready is always true), and fec.Warm builds
	// the encoder's 74 MiB of tables: receivers should leave this nil.
	FECReady func() bool

	Rand   *rand.Rand   // nil = seeded from the runtime's random source
	Logger *slog.Logger // nil = silent
}

func newRand(r *rand.Rand) *rand.Rand {
	if r != nil {
		return r
	}
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}

func nodeID(id uint64, r *rand.Rand) uint64 {
	for id == 0 {
		id = r.Uint64()
	}
	return id
}

var discard = slog.New(slog.DiscardHandler)

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
