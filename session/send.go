package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/discuscast/discus/fec"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/mcast/wire"
)

// Errors of a sending session, for exit codes and scripts.
var (
	// ErrStartTimeout: nobody showed up (no receiver for Send, no sender for
	// Receive) within StartTimeout.
	ErrStartTimeout = errors.New("mcast: start timeout")
	// ErrNoReceivers: fewer than MinReceivers joined and MaxWait ran out with
	// none at all.
	ErrNoReceivers = errors.New("mcast: no receivers")
	// ErrReceiversLost: receivers that joined went silent before completing.
	ErrReceiversLost = errors.New("mcast: receivers lost")
)

// Defaults of SendConfig's zero fields.
const (
	DefaultReceiverTimeout = 30 * time.Second
	DefaultLinger          = 500 * time.Millisecond
	progressEvery          = 100 * time.Millisecond
)

// SendConfig configures Send. The zero value serves as soon as one receiver
// says hello, on the default UDP group and ports, at an adaptive rate, and
// ends when every receiver that joined has completed.
type SendConfig struct {
	Sender mcast.SenderConfig // protocol settings; SessionID must identify the image
	// Transport to use; nil opens UDP multicast with UDP.
	Transport transport.Transport
	UDP       transport.UDPConfig

	// MinReceivers holds data back until this many receivers said hello;
	// MinWait holds it back at least this long; MaxWait starts anyway after
	// this long if at least one receiver is there (0 = wait for MinReceivers).
	MinReceivers     int
	MinWait, MaxWait time.Duration
	// StartTimeout gives up (ErrStartTimeout) when no receiver at all said
	// hello within it; 0 = wait for ever.
	StartTimeout time.Duration
	// ReceiverTimeout declares a receiver lost when it has been silent this
	// long without completing; 0 = DefaultReceiverTimeout.
	ReceiverTimeout time.Duration
	// Linger keeps the session open this long after every receiver is done,
	// to acknowledge the last completions and let stragglers join;
	// 0 = DefaultLinger.
	Linger time.Duration
	// Serve keeps serving whoever joins, for as long as receivers keep coming:
	// the session ends only once no receiver has been at work for IdleTimeout
	// (0 = serve until ctx ends), not when the receivers of the moment are done.
	Serve       bool
	IdleTimeout time.Duration
	// StatusFile, if set, is rewritten every second with the session's state and
	// every receiver's (SendStatus as JSON; status.go).
	StatusFile string

	// Progress, if set, is called about ten times a second from the loop.
	Progress func(SendProgress)
	Logger   *slog.Logger
}

// SendProgress is the running state of a Send.
type SendProgress struct {
	Started   bool // data is flowing (enough receivers, or MaxWait passed)
	Elapsed   time.Duration
	Stats     mcast.SenderStats
	Receivers []mcast.ReceiverInfo
	Lost      int // receivers declared lost
}

// SendResult sums up a finished Send.
type SendResult struct {
	SendProgress
	Transport transport.Stats // zero unless the transport is a *transport.UDP
}

// Send serves src until every receiver that joined has completed (or is
// lost), following the start rules of cfg. It returns ErrReceiversLost
// (wrapped, naming the count) when some receivers never completed.
func Send(ctx context.Context, src mcast.ChunkSource, cfg SendConfig) (SendResult, error) {
	if cfg.ReceiverTimeout == 0 {
		cfg.ReceiverTimeout = DefaultReceiverTimeout
	}
	if cfg.Linger == 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.Sender.Logger == nil {
		cfg.Sender.Logger = cfg.Logger
	}
	if mc, ok := src.(maxChunker); ok && cfg.Sender.MaxChunk == 0 {
		cfg.Sender.MaxChunk = mc.MaxChunkSize()
	}
	log := logger(cfg.Logger)
	tr := cfg.Transport
	if tr == nil {
		u, err := transport.ListenUDP(transport.RoleSender, cfg.UDP)
		if err != nil {
			return SendResult{}, err
		}
		tr = u
	}
	defer tr.Close()

	// Only repairs need the code's tables: build them meanwhile rather than
	// hold the first data back (the first repair waits for what is left).
	// A sender answers its first repair soon: build the large code's tables now, in the
	// background, rather than inside that repair.
	fec.Warm()
	if cfg.Sender.FECReady == nil {
		cfg.Sender.FECReady = fec.Warm
	}
	start := time.Now()
	cfg.Sender.Paused = true
	s, err := mcast.NewSender(cfg.Sender, src, start)
	if err != nil {
		return SendResult{}, err
	}
	// One framer for the session and its abort (sayAbort): a keyed receiver's replay
	// window would refuse a second framer's counters.
	m, err := mcast.OnWire(s)
	if err != nil {
		return SendResult{}, err
	}
	var (
		res          SendResult
		pol          = newSendPolicy(cfg, start)
		lastProgress time.Time
		foreignSeen  uint64
		srcErr       error // the source failed: the sender gives up and says so
		status       = newStatusWriter(cfg, s, src, start)
	)
	snapshot := func(now time.Time) {
		res.Elapsed = now.Sub(start)
		res.Stats = s.Stats()
		res.Receivers = current(s.Receivers())
		res.Lost = pol.Lost()
	}
	stop := func() (bool, error) {
		now := time.Now()
		if cfg.Progress != nil && now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			snapshot(now)
			cfg.Progress(res.SendProgress)
		}
		if f, ok := src.(failer); ok {
			if err := f.Err(); err != nil {
				srcErr = err
				return true, err
			}
		}
		if f := s.Stats().Drops[wire.DropForeign]; f > foreignSeen {
			if foreignSeen == 0 {
				log.Warn("mcast: another session is active on this group; its packets are ignored")
			}
			foreignSeen = f
		}
		rs := current(s.Receivers())
		_, final := src.ChunkCount()
		st, _ := pol.Step(now, sendView{Receivers: rs, Final: final})
		status.update(now, rs, pol, res.Started)
		if st.Start {
			res.Started = true
			s.SetPaused(false)
			log.Info("mcast: sending", "receivers", len(rs), "waited", now.Sub(start).Round(time.Millisecond))
		}
		for _, id := range st.Lost {
			for _, r := range rs {
				if r.NodeID == id {
					log.Warn("mcast: receiver lost", "node", fmt.Sprintf("%016x", id),
						"chunks", r.ChunksDone, "silent", now.Sub(r.LastHeard).Round(time.Second))
				}
			}
		}
		return st.End, st.Err
	}
	err = transport.Drive(ctx, tr, m, stop)
	if cfg.Serve && err != nil && srcErr == nil && ctx.Err() != nil && pol.idleNow() {
		// A serving sender stopped (SIGTERM) while nobody was at work: a normal end.
		err = nil
	}
	if told := len(s.Receivers()) > 0; told && (srcErr != nil || err != nil && ctx.Err() != nil) {
		// Receivers are waiting for data that will not come: tell them (§1.9).
		reason, chunk := abortFor(err)
		log.Info("mcast: telling receivers the sender gives up", "reason", reason)
		sayAbort(tr, s, m, reason, chunk)
	}
	snapshot(time.Now())
	if u, ok := tr.(*transport.UDP); ok {
		res.Transport = u.Stats()
	}
	if err == nil && pol.Lost() > 0 {
		err = fmt.Errorf("%w: %d of %d receivers did not complete", ErrReceiversLost, pol.Lost(), len(res.Receivers))
	}
	status.finish(time.Now(), current(s.Receivers()), pol, err)
	return res, err
}

var discard = slog.New(slog.DiscardHandler)

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
