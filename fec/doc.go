// Package fec is the erasure code of Discus: it cuts a chunk into K data
// blocks, makes up to M parity blocks on demand, and rebuilds the chunk from
// any K distinct blocks.
//
// # The problem
//
// A chunk (at most 16 MiB, typically 1 MiB) travels as K data blocks of
// BlockSize bytes, one per packet; the last block is zero-padded. Receivers
// lose different blocks. Rather than resending each receiver's losses, the
// sender answers with fresh parity blocks — index 0, 1, 2, ... never repeating
// one — as many as the largest deficit reported. Because any K of the K+M
// blocks rebuild the chunk, one parity packet repairs a different loss at
// every receiver that needed one.
//
// # Why one big-field code and not interleaved GF(2^8) groups
//
// A GF(2^8) Reed-Solomon code has at most 256 blocks, but a 1 MiB chunk of
// 1400-byte blocks has 749 and a 16 MiB chunk about 12000. Splitting the
// chunk into interleaved groups of at most ~200 blocks would work, but a
// parity packet then repairs only its own group: the sender must send the
// largest deficit of every group separately. With 1000 receivers at 1 % loss
// and four groups of ~190 blocks, the worst receiver of each group misses
// about 7 of its blocks, so the sender sends ~30 parity packets; one code
// over the whole chunk needs only the worst total deficit, about 18
// (simulated for a 749-block chunk): 2.4 % overhead instead of 4 %. With one code per
// chunk every parity packet repairs any loss of any receiver, so the sender
// sends exactly max(deficit) packets.
//
// Such a code needs GF(2^16) (up to 65536 blocks) once K+M passes 256. The
// leopard FFT algorithm (github.com/klauspost/reedsolomon) encodes in
// O(K log M), so the large field costs little. Chunks whose K and M fit
// GF(2^8) (up to about 200 blocks: small chunks, or 1 MiB in 8900-byte
// jumbo blocks) use leopard GF(2^8) instead: same properties, but without
// the first use of GF(2^16) in a process building ~74 MiB of tables (~0.3 s,
// much longer under the race detector). The field is a function of (K, M),
// so every party agrees on it.
//
// # Fixing M
//
// Leopard places the data after ceilPow2(M) parity positions, so parity
// block j depends on M (through ceilPow2(M)): a code with M=128 and one with
// M=256 disagree. Parity is therefore not an open-ended stream; each chunk has
// a fixed number of parity indexes, Params.Parity(K), which every party
// derives from the announced Params: by default max(MinParity, ceil(K/4)),
// i.e. a quarter of the chunk, enough for a receiver losing 20 % of its
// packets, lowered if K+M would not fit the field. The Encoder computes all M
// parity blocks in one pass the first time any is requested (the cost is
// dominated by transforming the K data blocks, not by M) and caches them, so
// parity fetched in several lazy batches is the same as parity fetched at
// once. When a chunk's M indexes are used up the sender can only repeat
// blocks; repeating parity from index 0 is still useful to receivers that
// lost those packets.
//
// # Blocks that are not a multiple of 64 bytes
//
// Leopard works on 64-byte groups of 32 two-byte symbols. A block of
// BlockSize bytes (which must be even) is coded in two parts with the same
// code: the largest 64-byte multiple in place, and the remaining bytes packed
// as whole symbols into a 64-byte shard. The unused symbols are zero in every
// data shard and hence in every parity shard, so parity blocks are exactly
// BlockSize bytes: the default 1400-byte block needs no extra wire bytes.
//
// # Decoding: only the lost rows
//
// Leopard's decoder costs the same whatever was lost: two transforms over
// ceilPow2(K+M) positions and, in GF(2^16), an error locator evaluated over
// all 65536 field elements (~0.6 ms) — about 1.3 ms for a 1 MiB chunk of
// 1400-byte blocks, whether one block or 64 were lost. The Decoder avoids
// it without changing the code: leopard's code is systematic, and its
// generator is a Cauchy matrix with one scale per group of positions. With m
// = ceilPow2(M), parity block j (position j) is
//
//	p_j = sum_i c[(m+i)/m] / ((m+i) xor j) * d_i
//
// over the field in leopard's representation (see cauchy in field.go; a test
// checks it against leopard's encoder). To rebuild e lost data blocks from
// e parity blocks, the decoder computes e syndromes — each parity block
// minus what the data held contributes to it — and multiplies them by the
// inverse of the e×e Cauchy submatrix, which has a closed form (O(e^2)
// scalars). The syndromes come either directly (e·K block multiply-adds,
// cheapest up to about log2(m)/2+1 losses) or by re-encoding the data held
// with the lost blocks zeroed (one encode, whatever e). The solve is e^2
// block multiply-adds, so beyond e^2 ~ n log2 n (n = ceilPow2(K+m): ~100
// losses of 749 blocks, ~500 of 11985) leopard's decoder is cheaper and is
// used instead. All block arithmetic is the library's own (GFNI or AVX2
// assembly): LowLevel.GF16MulSliceXor for GF(2^16), and for GF(2^8)
// GalMulSliceXor after translating the e syndromes and e results between
// leopard's basis and the library's with a byte table. The rebuilt bytes are
// exactly leopard's: parity on the wire is unchanged, and tests compare
// every path with leopard's decoder on random losses.
//
// This keeps one code over the whole chunk (the argument above) and makes
// decoding cost follow the loss, which interleaved GF(2^8) groups would have
// given only at the price of more parity on the wire.
//
// # Speed
//
// Per core on the 2-core development machine (medians of 5 paired runs), a
// 1 MiB chunk of 1400-byte blocks (749 blocks, M = 188), adding the blocks
// held included: encoding ~3.7 GB/s; decoding with 1 block lost ~7 GB/s, 4
// lost ~4 GB/s, 16 lost ~3 GB/s, 38 lost (5 %) ~2.4 GB/s, 64 lost ~1.8
// GB/s, against ~0.8 GB/s for leopard's decoder at any loss; in 8900-byte
// blocks (GF(2^8)) 5 % loss decodes at ~3.5 GB/s against ~1.2. A 16 MiB chunk
// at 5 % loss (600 blocks) still goes to leopard's decoder, ~0.55 GB/s.
// Decoders of different chunks are independent, so a receiver can rebuild
// chunks on several cores. A loss-free chunk needs no decoding at all.
//
// # Memory
//
// The Encoder references the caller's chunk (copying only a padded last
// block) and holds M*BlockSize bytes of parity once asked. A Decoder
// allocates its K*BlockSize data buffer on the first block and copies parity
// blocks only as they arrive, so a receiver can keep partial decoders for a
// window of chunks; Bytes rebuilds lost data blocks in place in that buffer,
// with pooled scratch of at most M blocks (the re-encoded parity) plus the
// e×e inverse.
// Release hands the buffer to a pool for the next Decoder once the caller is
// done with the chunk, sparing an allocation and a page-zeroing per chunk.
//
// # One-time setup
//
// Codes over GF(2^16) need multiplication tables that take about 0.3 CPU
// seconds and 74 MiB to build, once per process, on first use. Warm starts
// that build on a goroutine of its own and reports whether it is done;
// Decoder.Ready tells whether Bytes would have to wait for it, and
// Params.NeedsTables whether a code of K blocks uses that field at all. A
// receive loop that must never stall calls Warm at its first loss and holds
// complete chunks until Ready (package mcast does).
//
// # Concurrency
//
// An Encoder may be shared by goroutines (parity is computed once under a
// lock). A Decoder belongs to one goroutine; decoders of different chunks are
// independent and may run in parallel.
package fec
