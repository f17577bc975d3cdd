package cli

import (
	"github.com/discuscast/discus/session"
)

// ReceiverJSON is the receiver's protocol counters.
type ReceiverJSON struct {
	ChunksDone           int               `json:"chunks_done"`
	ChunksHeld           int               `json:"chunks_held"` // of chunks_done, found on the target (resume)
	ChunksTotal          int               `json:"chunks_total"`
	DeliveredBytes       uint64            `json:"delivered_bytes"`
	NewBlocks            uint64            `json:"new_blocks"`
	DupBlocks            uint64            `json:"duplicate_blocks"`
	LostPackets          uint64            `json:"lost_packets"`
	LossRatio            float64           `json:"loss_ratio"`
	RequestPackets       uint64            `json:"request_packets"`
	NeedsSent            uint64            `json:"needs_sent"`
	WholeChunkNeeds      uint64            `json:"whole_chunk_needs"`
	NeedsSuppressed      uint64            `json:"needs_suppressed"`
	ReportPackets        uint64            `json:"report_packets"`
	CongestionReports    uint64            `json:"congestion_reports"`
	CongestionSuppressed uint64            `json:"congestion_reports_suppressed"`
	CorruptChunks        uint64            `json:"corrupt_chunks"`
	KeptBlocks           uint64            `json:"kept_blocks"`
	Deferred             uint64            `json:"deferred_deliveries"`
	SenderPackets        uint64            `json:"sender_packets"`
	PartialChunks        int               `json:"partial_chunks"`
	OutChunks            int               `json:"chunks_out_for_delivery"`
	Drops                map[string]uint64 `json:"dropped_packets"`
	RTTSeconds           float64           `json:"rtt_seconds"`
	Outlier              bool              `json:"outlier"`
	SeqOutliers          uint64            `json:"sequence_outliers"`
	AckConflicts         uint64            `json:"ack_conflicts"`
	Refused              uint64            `json:"refused_announces"`
	Readopted            uint64            `json:"readopted_announces"`
	Evicted              uint64            `json:"evicted_chunks"`
	LenSwitches          uint64            `json:"length_switches"`
}

// InstallJSON is what the installer did.
type InstallJSON struct {
	AcceptedChunks  int     `json:"accepted_chunks"`
	WrittenChunks   int     `json:"written_chunks"`
	DuplicateChunks int     `json:"duplicate_chunks"`
	RejectedChunks  int     `json:"rejected_chunks"`
	ChunkBytes      int64   `json:"chunk_bytes"`   // encoded bytes of accepted chunks
	DataBytes       int64   `json:"data_bytes"`    // disk bytes written from chunks
	GapBytes        int64   `json:"gap_bytes"`     // gap bytes zeroed or discarded
	HeldChunks      int     `json:"held_chunks"`   // chunks the target already held: not received
	HeldBytes       int64   `json:"held_bytes"`    // their used bytes
	WrittenBytes    int64   `json:"written_bytes"` // bytes actually written (only blocks the target lacked)
	SkippedBytes    int64   `json:"skipped_bytes"` // bytes of received chunks already on the target
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	TotalChunks     int     `json:"total_chunks"`
}

// RecvStatsFile is mcrecv's --stats-json.
type RecvStatsFile struct {
	StatsHead
	Target string `json:"target"`
	// Acked: the sender acknowledged this receiver's completion.
	Acked            bool          `json:"acked"`
	ImageBytes       int64         `json:"image_bytes"`
	ReceivedSeconds  float64       `json:"received_seconds"` // from joining to the end
	GoodputBytesPerS float64       `json:"goodput_bytes_per_s"`
	Receiver         ReceiverJSON  `json:"receiver"`
	Install          InstallJSON   `json:"install"`
	Resume           ResumeJSON    `json:"resume"`
	Transport        TransportJSON `json:"transport"`
	Image            *ImageJSON    `json:"image,omitempty"`
}

// ResumeJSON is what the target was found to hold before receiving.
type ResumeJSON struct {
	Hashed        bool    `json:"hashed"`
	BlocksHashed  int     `json:"blocks_hashed"`
	BlocksMatched int     `json:"blocks_matched"`
	ReadBytes     int64   `json:"read_bytes"`
	HeldChunks    int     `json:"held_chunks"`
	HeldBytes     int64   `json:"held_bytes"`
	HashSeconds   float64 `json:"hash_seconds"`
}

// RecvStats builds mcrecv's --stats-json from the session's result.
func RecvStats(st *RecvStatus, target string, res session.ReceiveResult, err error) RecvStatsFile {
	f := RecvStatsFile{StatsHead: statsHead("mcrecv", res.Elapsed, err), Target: target, Acked: res.Acked,
		Transport: transportJSON(res.Transport), Image: imageJSON(res.Header)}
	done, _ := imageBytes(res.ReceiveProgress)
	f.ImageBytes = done
	if res.Joined {
		d := res.Elapsed - st.joinedAt
		f.ReceivedSeconds = d.Seconds()
		if d > 0 {
			f.GoodputBytesPerS = float64(done) / d.Seconds()
		}
	}
	s := res.Stats
	f.Receiver = ReceiverJSON{ChunksDone: s.ChunksDone, ChunksTotal: s.ChunksTotal, DeliveredBytes: s.Bytes,
		NewBlocks: s.Blocks, DupBlocks: s.DupBlocks, LostPackets: s.Lost, LossRatio: s.Loss,
		RequestPackets: s.Requests, NeedsSent: s.NeedsSent, WholeChunkNeeds: s.WholeNeeds,
		NeedsSuppressed: s.NeedsSuppressed, ReportPackets: s.Reports, CongestionReports: s.CongReports,
		CongestionSuppressed: s.CongSuppressed, CorruptChunks: s.Corrupt, KeptBlocks: s.KeptBlocks,
		Deferred: s.Deferred, SenderPackets: s.SenderPackets, PartialChunks: s.Partials, OutChunks: s.Out,
		Drops: DropsJSON(s.Drops), RTTSeconds: s.RTT.Seconds(), Outlier: s.Outlier, SeqOutliers: s.SeqOutliers,
		AckConflicts: s.AckConflicts, Refused: s.Refused, Readopted: s.Readopted, Evicted: s.Evicted,
		LenSwitches: s.LenSwitches}
	in := res.Install
	f.Install = InstallJSON{AcceptedChunks: in.Accepted, WrittenChunks: in.Written, DuplicateChunks: in.Duplicates,
		RejectedChunks: in.Rejected, ChunkBytes: in.ChunkBytes, DataBytes: in.DataBytes, GapBytes: in.GapBytes,
		ElapsedSeconds: in.Elapsed.Seconds(), TotalChunks: in.TotalChunks,
		HeldChunks: in.Held, HeldBytes: in.HeldBytes, WrittenBytes: in.WriteBytes, SkippedBytes: in.SkipBytes}
	f.Receiver.ChunksHeld = s.ChunksHeld
	rv := res.Resume
	f.Resume = ResumeJSON{Hashed: rv.Hashed, BlocksHashed: rv.Hash.Blocks, BlocksMatched: rv.Hash.Matched,
		ReadBytes: rv.Hash.ReadBytes, HeldChunks: rv.HeldChunks, HeldBytes: rv.HeldBytes, HashSeconds: rv.HashElapsed.Seconds()}
	return f
}
