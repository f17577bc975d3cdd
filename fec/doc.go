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
// used instead, but only where the library's tables exist (below). For
// GF(2^8) the block arithmetic is the library's GalMulSliceXor, after
// translating the e syndromes and e results between leopard's basis and the
// library's with a byte table. The rebuilt bytes are exactly leopard's:
// parity on the wire is unchanged, and tests compare every path with
// leopard's decoder on random losses.
//
// # GF(2^16) without the library's tables
//
// Every GF(2^16) routine of klauspost/reedsolomon (the leopard coder,
// LowLevel.GF16MulSliceXor, even GF16Mul) first builds product tables for
// all 65536 multipliers: 64 MiB for its pure-Go path, 8 MiB for PSHUFB and
// 2 MiB for GFNI, 74 MiB whatever the CPU uses (the ~70 MB jump in mcrecv's
// heap at its first repair, issue 14). A decoder multiplies only by the
// coefficients of the blocks it rebuilds, so it makes each multiplier's
// table on the spot (mulTable, gf16mul.go: 16 scalar products from field.go's
// 384 KiB of log tables, turned into four GFNI matrices or 128 bytes of
// PSHUFB nibble tables) and runs the library's own GFNI or AVX2 kernels,
// copied into fec (MIT licence), with them; a portable loop serves other
// CPUs. The re-encoding path uses a port of leopard's encoder to that
// arithmetic (fft.go: the same IFFT of each group of m data blocks and FFT
// onto the parity positions, in plain radix-2 layers; tests compare it with
// leopard's, shard for shard). Leopard's decoder runs only where the tables
// exist anyway: once Warm built them, i.e. in a sender. A receiver's decoder
// process keeps a heap of a few MiB (TestDecoderBuildsNoTables).
//
// This keeps one code over the whole chunk (the argument above) and makes
// decoding cost follow the loss, which interleaved GF(2^8) groups would have
// given only at the price of more parity on the wire.
//
// # Speed
//
// Per CPU-second on the 2-core development machine (noisy; GFNI), a 1 MiB
// chunk of 1400-byte blocks (749 blocks, M = 188), adding the blocks held
// included, with fec's own arithmetic (a receiver) against the library's
// before: 1 block lost 5.0 GB/s (4.3), 4 lost 2.9 (2.0), 16 lost 1.6 (1.7),
// 38 lost (5 %) 0.85 (1.7), 64 lost 0.84 (1.2); a 16 MiB chunk at 5 % loss
// 0.2 GB/s (0.35). With few losses (direct syndromes: up to 5 of 749
// blocks) decoding is faster than before; beyond, the radix-2 re-encoding
// costs about twice the library's fused two-layer kernels, and past ~100
// losses the e^2 solve replaces leopard's decoder. On this CPU VPSHUFB is slow: the AVX2
// kernel runs at 2.5 GB/s, GFNI at 18 (the library's GFNI at 14). Encoding
// (the sender) is the library's, ~3.7 GB/s; in 8900-byte blocks (GF(2^8))
// 5 % loss decodes at ~3 GB/s. Decoders of different chunks are
// independent, so a receiver can rebuild chunks on several cores. A
// loss-free chunk needs no decoding at all.
//
// # Memory
//
// The Encoder references the caller's chunk (copying only a padded last
// block) and holds M*BlockSize bytes of parity once asked. A Decoder
// allocates its K*BlockSize data buffer on the first block and copies parity
// blocks only as they arrive, so a receiver can keep partial decoders for a
// window of chunks; Bytes rebuilds lost data blocks in place in that buffer,
// with pooled scratch of at most M blocks (the re-encoded parity) and
// 2·ceilPow2(M) work blocks while re-encoding, plus the e×e inverse.
// Release hands the buffer to a pool for the next Decoder once the caller is
// done with the chunk, sparing an allocation and a page-zeroing per chunk.
//
// # One-time setup
//
// The sender's encoder over GF(2^16) is the library's, whose tables take
// about 0.3 CPU seconds and 74 MiB to build, once per process, on first
// use. Warm starts that build on a goroutine of its own and reports whether
// it is done (a sender calls it at start). Decoders need none of it:
// Decoder.Ready is always true and receivers should not call Warm.
// Params.NeedsTables tells whether a code of K blocks is over GF(2^16).
//
// # CPUs without SSSE3
//
// klauspost/reedsolomon v1.14.2's GF(2^16) coder panics on x86-64 CPUs
// without SSSE3 (qemu's default qemu64 model): ifftDIT4 and fftDIT4
// (galois_amd64.go) take &multiply256LUT[...] before choosing a path, and
// that table is only built with SSSE3 or AVX2 (an upstream bug, not
// reported). There the Encoder uses fft.go instead and Warm skips the
// library; decoders never reach it. TestNoSSSE3 runs the encoder, Warm and a
// rebuild under qemu-x86_64 -cpu qemu64 when qemu-user is installed.
//
// # Concurrency
//
// An Encoder may be shared by goroutines (parity is computed once under a
// lock). A Decoder belongs to one goroutine; decoders of different chunks are
// independent and may run in parallel.
package fec
