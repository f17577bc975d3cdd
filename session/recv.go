package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
)

// ErrSenderLost: the sender fell silent for ReceiveTimeout mid-transfer.
var ErrSenderLost = errors.New("mcast: sender lost")

// MaxForgedChunks is how many rebuilt chunks may fail the image's manifest before
// ReceiveImage gives up with image.ErrManifest (a keyless network under attack).
const MaxForgedChunks = 64

// ackGrace is how long a complete receiver waits for the sender's
// acknowledgement before it ends anyway: its data is verified either way,
// the acknowledgement only spares the sender a lost-receiver report.
const ackGrace = 2 * time.Second

// ReceiveConfig configures ReceiveImage. The zero value joins the first
// session heard on the default UDP group and waits for ever.
type ReceiveConfig struct {
	// Receiver holds protocol settings (SessionID to pick one image, Window);
	// its OnSession and OnUpdate are set by ReceiveImage, and Deliver is unset
	// (chunks come out of Receiver.Ready and are judged on workers).
	Receiver mcast.ReceiverConfig
	// Transport to use; nil opens UDP multicast with UDP.
	Transport transport.Transport
	UDP       transport.UDPConfig

	// StartTimeout gives up (ErrStartTimeout) when no sender is heard within
	// it; ReceiveTimeout gives up (ErrSenderLost) when no data arrives for
	// this long once data has begun to flow (counted only while the receiver
	// waits for data, mcast.Receiver.Waiting), or when the sender falls silent
	// altogether (not even announces) for this long after it was heard. A
	// sender waiting for more receivers keeps announcing, so early receivers
	// wait with it. 0 = wait for ever.
	StartTimeout, ReceiveTimeout time.Duration

	// Install configures the installer (workers, gap handling, Grow, and
	// Decrypt for an encrypted image).
	Install image.InstallConfig
	// Trust, if set, accepts only images signed by one of these keys: an
	// unsigned image or another signer is refused before anything is written
	// (image.ErrUnsigned, image.ErrUntrusted). Every chunk is checked against
	// the image's manifest before it is written, signed or not.
	Trust *image.TrustedKeys
	// Sink, if set, replaces installation onto the target: it is called once
	// with the image header when the session is joined and returns where the
	// chunks go (for example an image file being kept). target is then unused.
	Sink func(*image.Header) (ChunkSink, error)
	// OnHeader, if set, sees the image header when the session is joined,
	// before anything is written; an error aborts.
	OnHeader func(*image.Header) error
	// Progress, if set, is called about ten times a second from the loop.
	Progress func(ReceiveProgress)
	Logger   *slog.Logger

	// NoResume installs every chunk even if the target already holds some. By
	// default a target that can be read (an io.ReaderAt, such as an *os.File) is
	// hashed against the image's block map once it arrives, and the chunks it holds
	// whole are neither fetched nor written (resume.go).
	NoResume bool
}

// ChunkSink takes verified chunks of one image in any order;
// *image.Installer is one. Put returns an *image.ChunkError for a chunk that
// must be fetched again, and any other error to stop the session.
type ChunkSink interface {
	Put(ctx context.Context, chunk []byte) error
	SetHeader(h *image.Header) error
	Close() error
	Stats() image.InstallStats
}

// ReceiveProgress is the running state of a ReceiveImage.
type ReceiveProgress struct {
	Joined  bool
	Header  *image.Header // nil until joined
	Elapsed time.Duration
	Stats   mcast.ReceiverStats
	Install image.InstallStats
	Resume  ResumeStats
}

// ReceiveResult sums up a finished ReceiveImage.
type ReceiveResult struct {
	ReceiveProgress
	Acked     bool            // the sender acknowledged our completion
	Transport transport.Stats // zero unless the transport is a *transport.UDP
}

// ReceiveImage joins a session and installs the image it carries onto
// target, writing each chunk as soon as it is rebuilt and verified. It
// returns nil only when every chunk was verified and written (and the target
// synced, if it has a Sync method); a chunk that fails its checksum is
// fetched again.
func ReceiveImage(ctx context.Context, target io.WriterAt, cfg ReceiveConfig) (ReceiveResult, error) {
	log := logger(cfg.Logger)
	if cfg.Receiver.Logger == nil {
		cfg.Receiver.Logger = cfg.Logger
	}
	tr := cfg.Transport
	if tr == nil {
		u, err := transport.ListenUDP(transport.RoleReceiver, cfg.UDP)
		if err != nil {
			return ReceiveResult{}, err
		}
		tr = u
	}
	defer tr.Close()

	var (
		res   ReceiveResult
		inst  ChunkSink
		fatal error
		gate  = imageGate{trust: cfg.Trust}
		rs    = resumer{workers: cfg.Install.Workers, log: log, key: cfg.Install.Decrypt}
	)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rc := cfg.Receiver
	var r *mcast.Receiver // set before any callback runs
	var joinedMeta []byte // the meta the sink was made for
	rc.OnSession = func(si mcast.SessionInfo) error {
		h, sig, err := image.ParseMeta(si.Meta)
		if err != nil {
			return fmt.Errorf("session %x: %w", si.SessionID, err)
		}
		if image.ID(si.SessionID) != h.ID {
			return fmt.Errorf("session %x announces image %v: %w", si.SessionID, h.ID, image.ErrForeignImage)
		}
		if err := gate.join(h, sig, si.Chunks, si.Final); err != nil {
			return err
		}
		if cfg.OnHeader != nil {
			if err := cfg.OnHeader(h); err != nil {
				return err
			}
		}
		var sink ChunkSink
		if cfg.Sink != nil {
			sink, err = cfg.Sink(h)
		} else {
			ic := cfg.Install
			ic.Incremental = true // its reference chunks come with it (docs/PROTOCOL.md §3.9)
			sink, err = image.NewInstaller(target, h, ic)
		}
		if err != nil {
			return err // before inst is set: a typed nil must not pass for a sink
		}
		if ms, ok := sink.(mapSetter); ok && !h.DeltaBase.IsZero() {
			gate.setOnMap(ms.SetBlockMap)
		}
		if ss, ok := sink.(interface{ SetSignature(*image.Signature) error }); ok && sig != nil {
			// A kept image stays signed (image.FileWriter writes it into the index).
			if err := ss.SetSignature(sig); err != nil {
				return err
			}
		}
		inst = sink
		res.Header = h
		rs.joined(r, h, sink)
		joinedMeta = append(joinedMeta[:0], si.Meta...)
		log.Info("mcast: joined", "image", h.ID, "size", h.TargetSize, "chunks", si.Chunks, "final", si.Final)
		return nil
	}
	rc.OnUpdate = func(si mcast.SessionInfo) error {
		if string(si.Meta) == string(joinedMeta) {
			return nil // only the count or finality changed: the mcast layer judges those
		}
		h, _, err := image.ParseMeta(si.Meta)
		if err != nil {
			return err
		}
		if res.Header.Complete || h.ID != res.Header.ID {
			// A complete header is the session's for good; only a stream's
			// preliminary header is ever completed.
			return fmt.Errorf("%w: the session's image header changed", image.ErrForeignImage)
		}
		if err := gate.update(h); err != nil {
			return err
		}
		if err := inst.SetHeader(h); err != nil {
			return err
		}
		res.Header = h
		joinedMeta = append(joinedMeta[:0], si.Meta...)
		return nil
	}
	// Chunks come out of the receiver (Ready) and are judged on workers (deliver.go):
	// the rebuild, the manifest's SHA-256 and the installer's checks run there, and the
	// rebuilt buffer goes to the installer without a copy (PutOwned), back to the
	// decoder pool once written.
	work := func(d mcast.Delivery) error {
		if ww, ok := inst.(writesWaiting); ok && ww.WritesWaiting() && !gate.isPart(d.Index) {
			// The target is being hashed (resume) once the block map is in: an image
			// chunk stays held in the receiver rather than park a worker until then, or
			// a late joiner's workers all waited for the very manifest parts they had
			// no room left to take (every late receiver stranded, exit 5).
			return mcast.ErrDeferred
		}
		b, err := d.Dec.Bytes()
		if err != nil {
			return &image.ChunkError{Index: d.Index, Offset: -1, Err: err} // fetched again
		}
		owned := false
		put := func(c []byte, checked bool) error {
			if po, ok := inst.(putOwned); ok {
				pf := po.PutOwned
				if pc, ok := inst.(putOwnedChecked); ok && checked {
					pf = pc.PutOwnedChecked // its SHA-256 vouches for the payload checksum
				}
				if err := pf(ctx, c, d.Dec.Release); err != nil {
					return err
				}
				owned = true
				return nil
			}
			return inst.Put(ctx, c)
		}
		err = gate.deliver(d.Index, b, put)
		if err == nil && !owned {
			d.Dec.Release()
		}
		return err
	}
	forged := 0
	judge := func(v verdict) error {
		err := v.err
		var ce *image.ChunkError
		switch {
		case err == nil || errors.Is(err, mcast.ErrDeferred) || fatal != nil:
		case errors.Is(err, image.ErrManifest):
			// The sender serves only chunks that match its manifest and the wire's
			// CRC catches corruption on the way: a chunk that fails the manifest was
			// forged. Fetching again wins against a few; against a flood it is a
			// session that never ends, so it ends here, honestly.
			if forged++; forged >= MaxForgedChunks {
				fatal = fmt.Errorf("%w: %d rebuilt chunks were not the image's: forged packets on this network (use --key)", image.ErrManifest, forged)
			}
		case !errors.As(err, &ce):
			// Not the chunk's fault (the target failed): stop, don't re-fetch.
			fatal = err
		}
		return err
	}

	// rc.FECReady stays nil: fec's decoders rebuild without the GF(2^16) tables that
	// fec.Warm builds (74 MiB, the sender's encoder needs them), so a receiver never
	// waits for them nor holds their memory (issue 14: mcrecv peaked at 142-152 MiB).
	start := time.Now()
	rc.Deliver = nil
	if rc.NodeID == 0 && rc.Key == nil && cfg.Sink == nil {
		rc.NodeID = stableNodeID(target) // a restart is the same receiver to the sender
	}
	if rc.Alias == 0 && rc.Key != nil && cfg.Sink == nil {
		rc.Alias = keyedAlias(target, rc.Key) // a keyed one keeps a fresh ID: alias.go
	}
	if ra, ok := target.(io.ReaderAt); ok && cfg.Sink == nil && !cfg.NoResume {
		rs.target = ra
	}
	r = mcast.NewReceiver(rc, start)
	onWire, err := mcast.OnWire(r)
	if err != nil {
		return ReceiveResult{}, err
	}
	dl := newDelivering(onWire, r, cfg.Install.Workers, work, judge)
	var (
		lastProgress time.Time
		pol          = newRecvPolicy(cfg.StartTimeout, cfg.ReceiveTimeout, start)
	)
	snapshot := func(now time.Time) {
		res.Joined = inst != nil
		res.Elapsed = now.Sub(start)
		res.Stats = r.Stats()
		if inst != nil {
			res.Install = inst.Stats()
		}
		res.Resume = rs.stats
	}
	stop := func() (bool, error) {
		now := time.Now()
		if cfg.Progress != nil && now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			snapshot(now)
			cfg.Progress(res.ReceiveProgress)
		}
		if fatal != nil {
			return true, fatal
		}
		if inst != nil {
			if err := rs.poll(ctx, r, &gate, inst, res.Header, now); err != nil {
				return true, err
			}
		}
		if err := r.Err(); err != nil {
			return true, err
		}
		st := r.Stats()
		step, _ := pol.Step(now, recvView{
			Joined: inst != nil, Done: r.Done(), Complete: r.Complete(),
			Blocks: st.Blocks + st.DupBlocks, Heard: st.SenderPackets, Waiting: r.Waiting(),
		})
		res.Acked = step.Acked
		return step.End, step.Err
	}
	err = transport.Drive(ctx, tr, dl, stop)
	err = senderGaveUp(err)
	cancel(err) // a worker waiting for the installer's window gives up
	dl.close()
	if inst != nil {
		if fw, ok := inst.(interface{ SetBlockMap(*image.BlockMap) }); ok {
			// A kept image's index ends with its block map: the one the manifest
			// checked (an encrypted image's cannot be rebuilt from sealed chunks).
			if mc := gate.checker(); mc != nil && mc.BlockMap() != nil {
				fw.SetBlockMap(mc.BlockMap())
			}
		}
		// Close waits for the last writes and fails unless every chunk of
		// the final header was verified and written.
		if cerr := inst.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = gate.finish()
		}
		if err == nil {
			if s, ok := target.(interface{ Sync() error }); ok {
				if serr := s.Sync(); serr != nil {
					err = fmt.Errorf("mcast: syncing target: %w", serr)
				}
			}
		}
	} else if err == nil {
		err = errors.New("mcast: ended before joining a session")
	}
	snapshot(time.Now())
	if u, ok := tr.(*transport.UDP); ok {
		res.Transport = u.Stats()
	}
	return res, err
}
