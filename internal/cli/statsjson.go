package cli

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/mcast/wire"
	"github.com/discuscast/discus/session"
)

// The --stats-json files are for scripts (jq, Python): every key is
// snake_case with its unit in the name (_bytes, _seconds, _bytes_per_s,
// _packets, _ratio for 0..1), 64-bit IDs are hex strings (a JSON number
// loses them past 2^53), times are RFC 3339 strings, drop counters are an
// object keyed by wire's drop reason names. The library's structs are not
// marshalled as they are, so renaming a Go field never renames a key.

// StatsHead opens both files: what made them, and how the run ended.
type StatsHead struct {
	Tool            string  `json:"tool"`
	Release         string  `json:"release"`
	ProtocolVersion int     `json:"protocol_version"`
	FormatVersion   int     `json:"image_format_version"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	ExitCode        int     `json:"exit_code"`
	Error           string  `json:"error,omitempty"`
}

func statsHead(tool string, elapsed time.Duration, err error) StatsHead {
	h := StatsHead{Tool: tool, Release: release(), ProtocolVersion: wire.Version,
		FormatVersion: image.FormatVersion, ElapsedSeconds: elapsed.Seconds(), ExitCode: ExitCode(err)}
	if err != nil {
		h.Error = Message(err)
	}
	return h
}

// NodeID formats a node ID as scripts get it.
func NodeID(id uint64) string { return fmt.Sprintf("%016x", id) }

// DropsJSON names every drop counter.
func DropsJSON(d wire.Drops) map[string]uint64 {
	m := make(map[string]uint64, len(d))
	for i, v := range d {
		m[wire.DropReason(i).String()] = v
	}
	return m
}

// ImageJSON is an image header.
type ImageJSON struct {
	ID               string `json:"id"`
	Complete         bool   `json:"complete"`
	TargetSizeBytes  int64  `json:"target_size_bytes"` // -1 while unknown
	SectorSizeBytes  uint32 `json:"sector_size_bytes"`
	MaxChunkBytes    uint32 `json:"max_chunk_bytes"`
	Chunks           uint32 `json:"chunks"`
	CreatedAt        string `json:"created_at,omitempty"`
	Source           string `json:"source"`
	Codec            string `json:"codec"`
	Level            int    `json:"level"`
	DataBytes        int64  `json:"data_bytes"`
	ZeroBytes        int64  `json:"zero_bytes"`
	UnusedBytes      int64  `json:"unused_bytes"`
	StoredBytes      int64  `json:"stored_bytes"`
	DeltaBase        string `json:"delta_base,omitempty"`
	ManifestRoot     string `json:"manifest_root"`
	Encrypted        bool   `json:"encrypted"`
	KeyID            string `json:"key_id,omitempty"`
	BlockMapBlockLen int    `json:"block_map_block_bytes,omitempty"`
}

func imageJSON(h *image.Header) *ImageJSON {
	if h == nil {
		return nil
	}
	j := &ImageJSON{ID: h.ID.String(), Complete: h.Complete, TargetSizeBytes: h.TargetSize,
		SectorSizeBytes: h.SectorSize, MaxChunkBytes: h.ChunkSize, Chunks: h.ChunkCount,
		Source: h.Source, Codec: h.Codec.String(), Level: h.Level, DataBytes: h.DataBytes,
		ZeroBytes: h.ZeroBytes, UnusedBytes: h.UnusedBytes, StoredBytes: h.StoredBytes,
		ManifestRoot: hex.EncodeToString(h.ManifestRoot[:]), Encrypted: h.Encrypted, BlockMapBlockLen: h.BlockSize}
	if !h.Created.IsZero() {
		j.CreatedAt = h.Created.UTC().Format(time.RFC3339)
	}
	if h.DeltaBase != (image.ID{}) {
		j.DeltaBase = h.DeltaBase.String()
	}
	if h.Encrypted {
		j.KeyID = h.KeyID.String()
	}
	return j
}

// TransportJSON is the UDP transport's counters.
type TransportJSON struct {
	RxPackets    int64 `json:"rx_packets"`
	RxBytes      int64 `json:"rx_bytes"`
	RxCalls      int64 `json:"rx_calls"`
	TxPackets    int64 `json:"tx_packets"`
	TxBytes      int64 `json:"tx_bytes"`
	TxCalls      int64 `json:"tx_calls"`
	TxRetries    int64 `json:"tx_retries"`
	GSOBuffers   int64 `json:"gso_buffers"`
	GSODatagrams int64 `json:"gso_datagrams"`
	GROReads     int64 `json:"gro_reads"`
	GRODatagrams int64 `json:"gro_datagrams"`
	GSOFallbacks int64 `json:"gso_fallbacks"`
	GROFallbacks int64 `json:"gro_fallbacks"`
}

func transportJSON(s transport.Stats) TransportJSON {
	return TransportJSON{RxPackets: s.RxPackets, RxBytes: s.RxBytes, RxCalls: s.RxCalls,
		TxPackets: s.TxPackets, TxBytes: s.TxBytes, TxCalls: s.TxCalls, TxRetries: s.TxRetries,
		GSOBuffers: s.GSOBuffers, GSODatagrams: s.GSODatagrams, GROReads: s.GROReads,
		GRODatagrams: s.GRODatagrams, GSOFallbacks: s.GSOFallbacks, GROFallbacks: s.GROFallbacks}
}

// SenderJSON is the sender's protocol counters.
type SenderJSON struct {
	SentPackets         uint64            `json:"sent_packets"`
	SentBytes           uint64            `json:"sent_bytes"`
	Announces           uint64            `json:"announce_packets"`
	Acks                uint64            `json:"ack_packets"`
	DataBlocks          uint64            `json:"data_blocks"`
	ParityBlocks        uint64            `json:"parity_blocks"`
	SideBlocks          uint64            `json:"side_blocks"`
	RepairBytes         int64             `json:"repair_bytes"`
	Requests            uint64            `json:"request_packets"`
	Needs               uint64            `json:"needs"`
	NeedsMerged         uint64            `json:"needs_merged"`
	NeedsInFlight       uint64            `json:"needs_in_flight"`
	NeedsOverBudget     uint64            `json:"needs_over_budget"`
	DoneConflicts       uint64            `json:"done_conflicts"`
	Reports             uint64            `json:"report_packets"`
	ChunkErrors         uint64            `json:"chunk_errors"`
	PeersUntracked      uint64            `json:"untracked_peer_packets"`
	Drops               map[string]uint64 `json:"dropped_packets"`
	PacingRateBytesPerS int64             `json:"pacing_rate_bytes_per_s"` // the rate control's target at the end, not a measurement
	QueuedBlocks        int               `json:"queued_blocks"`
	Outliers            int               `json:"outliers"`
	MedianLossRatio     float64           `json:"median_loss_ratio"`
	GoodputBytesPerS    float64           `json:"goodput_bytes_per_s"` // image bytes / data_seconds
	DataSeconds         float64           `json:"data_seconds"`        // from the first data to the end
	ImageBytes          int64             `json:"image_bytes"`
}

// ReceiverInfoJSON is one receiver as the sender saw it.
type ReceiverInfoJSON struct {
	NodeID         string  `json:"node_id"`
	Address        string  `json:"address"` // source address of its latest packet ("" if unknown)
	State          string  `json:"state"`   // done, lost or receiving
	FirstHeardAt   string  `json:"first_heard_at"`
	LastHeardAt    string  `json:"last_heard_at"`
	ChunksDone     int     `json:"chunks_done"`
	ChunksKnown    int     `json:"chunks_known"`
	LossRatio      float64 `json:"loss_ratio"`
	Outlier        bool    `json:"outlier"`
	RequestPackets uint64  `json:"request_packets"`
	ReportPackets  uint64  `json:"report_packets"`
}

// SendStatsFile is mcsend's --stats-json.
type SendStatsFile struct {
	StatsHead
	Source          string             `json:"source"`
	ImageID         string             `json:"image_id"`
	ReceiversJoined int                `json:"receivers_joined"`
	ReceiversDone   int                `json:"receivers_done"`
	ReceiversLost   int                `json:"receivers_lost"`
	Sender          SenderJSON         `json:"sender"`
	Receivers       []ReceiverInfoJSON `json:"receivers"`
	Transport       TransportJSON      `json:"transport"`
	Image           *ImageJSON         `json:"image,omitempty"`
}

// SendStats builds mcsend's --stats-json from the session's result. st is
// the SendStatus that followed the session (its start time and receiver
// rules), now when the session ended.
func SendStats(st *SendStatus, source string, res session.SendResult, now time.Time, err error) SendStatsFile {
	p := res.SendProgress
	done, joined, lost, _ := st.counts(p)
	total, _ := st.total()
	f := SendStatsFile{StatsHead: statsHead("mcsend", p.Elapsed, err), Source: source,
		ReceiversJoined: joined, ReceiversDone: done, ReceiversLost: lost,
		Transport: transportJSON(res.Transport), Receivers: []ReceiverInfoJSON{}}
	if st.Header != nil {
		if h := st.Header(); h != nil {
			f.ImageID, f.Image = h.ID.String(), imageJSON(h)
		}
	}
	s := p.Stats
	f.Sender = SenderJSON{SentPackets: s.Packets, SentBytes: s.Bytes, Announces: s.Announces, Acks: s.Acks,
		DataBlocks: s.DataBlocks, ParityBlocks: s.ParityBlocks, SideBlocks: s.SideBlocks,
		RepairBytes: st.repairBytes(p), Requests: s.Requests, Needs: s.Needs, NeedsMerged: s.NeedsMerged,
		NeedsInFlight: s.NeedsInFlight, NeedsOverBudget: s.NeedsOverBudget, DoneConflicts: s.DoneConflicts,
		Reports: s.Reports, ChunkErrors: s.ChunkErrors, PeersUntracked: s.PeersUntracked,
		Drops: DropsJSON(s.Drops), PacingRateBytesPerS: s.Rate, QueuedBlocks: s.Queued,
		Outliers: s.Outliers, MedianLossRatio: s.LossRef, ImageBytes: total}
	if p.Started && st.sawStart {
		d := st.dataTime(p)
		f.Sender.DataSeconds = d.Seconds()
		if d > 0 && done > 0 {
			f.Sender.GoodputBytesPerS = float64(total) / d.Seconds()
		}
	}
	for _, r := range p.Receivers {
		state := "receiving"
		switch {
		case r.Done:
			state = "done"
		case st.ReceiverTimeout > 0 && now.Sub(r.LastHeard) > st.ReceiverTimeout:
			state = "lost"
		}
		addr := ""
		if r.Addr.IsValid() {
			addr = r.Addr.String()
		}
		f.Receivers = append(f.Receivers, ReceiverInfoJSON{NodeID: NodeID(r.NodeID), Address: addr, State: state,
			FirstHeardAt: stamp(r.FirstHeard), LastHeardAt: stamp(r.LastHeard),
			ChunksDone: r.ChunksDone, ChunksKnown: r.ChunksKnown, LossRatio: r.Loss, Outlier: r.Outlier,
			RequestPackets: r.Requests, ReportPackets: r.Reports})
	}
	return f
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
