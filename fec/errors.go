package fec

import "errors"

// Sentinel errors. Functions wrap them with details; test with errors.Is.
var (
	// ErrBlockSize means Params.BlockSize is unusable (odd, negative or too large).
	ErrBlockSize = errors.New("fec: invalid block size")
	// ErrChunkLen means the chunk is empty or needs more than MaxBlocks blocks.
	ErrChunkLen = errors.New("fec: invalid chunk length")
	// ErrIndex means a block index outside [0, K+M).
	ErrIndex = errors.New("fec: block index out of range")
	// ErrBlockLen means a block whose length does not match the code.
	ErrBlockLen = errors.New("fec: wrong block length")
	// ErrIncomplete means fewer than K distinct blocks are held.
	ErrIncomplete = errors.New("fec: not enough blocks to rebuild the chunk")
)
