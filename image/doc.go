// Package image defines Discus's disk image: a sequence of self-describing,
// independently compressed chunks, and the code that creates and installs it.
//
// # The format in one page
//
// docs/FORMAT.md specifies every byte; here is the idea. A target disk of
// TargetSize bytes is cut, front to back, into chunks. Each chunk is
// responsible for a span of the disk: the spans of chunks 0, 1, 2, ... tile
// the disk from byte 0 to its end. Inside its span a chunk lists the Ranges
// whose bytes it carries, and its payload holds exactly those bytes,
// compressed as one zstd frame (or stored raw when they do not shrink). The
// rest of the span — all-zero 4 KiB blocks, holes of a sparse file, space a
// filesystem does not use — is a gap: it costs nothing in the image, and an
// installer leaves it alone, zeroes it or discards it (GapMode).
//
// Every chunk carries the image ID, its index, its span and ranges, and two
// xxhash64 checksums (header and payload). So a receiver can check, decompress
// and write any chunk the moment it has it, in any order, knowing nothing
// but the image's Header. No encoded chunk is larger than the image's chunk
// size (1 MiB by default, 64 KiB to 16 MiB), which is what lets the network
// layer move chunks in fixed-size pieces.
//
// The Header (at most 1 KiB, MarshalBinary / ParseHeader) describes the
// whole image: ID, target size, chunk size and count, source, statistics.
// While a creator is still reading its source, the header is preliminary
// (Complete false): the chunk count is not known yet, nor the size of a
// stream source (SizeUnknown).
//
// An image file is the preliminary header, the chunks back to back, an
// index of chunk offsets and SHA-256s with the complete header (and the
// signature, if any), and a fixed trailer. It
// is written strictly front to back (a pipe works) and read either at random
// (Open, OpenFile, Reader.Chunk) or front to back (ScanStream).
//
// # Creating
//
// A Source is a file (holes skipped with SEEK_DATA/SEEK_HOLE), a block
// device (BLKGETSIZE64) or a stream (stdin) of unknown size: OpenSource,
// NewSource, NewStreamSource. CreateChunks reads it sequentially, drops
// all-zero blocks, compresses on all cores and hands out chunks in index
// order — the multicast sender uses it to send a disk on the fly. Create
// does the same into an image file. CreateConfig.Used (from package
// image/fsmap) lets a filesystem-aware caller skip free space unread.
//
// # Installing
//
// NewInstaller checks that the target is large enough before writing
// anything. Put verifies a chunk synchronously — a bad one gets a
// *ChunkError wrapping ErrCorrupt or ErrForeignImage and nothing is written,
// so a receiver can ask for it again — then decompresses and writes it on a
// worker. Duplicates are ignored; memory is bounded by a window of chunks.
// Close reports success only if every chunk was verified and written.
//
// # Reading and keeping
//
// NewDiskReader gives an io.ReaderAt over the disk an image holds, read
// from the image file itself: a read decompresses the chunk whose span
// covers it (a few are cached) and gaps read as zeros. The filesystem
// readers of image/fsmap run on it, which is how `mcimage info` lists an
// image's partitions without installing it.
//
// FileWriter keeps an image instead of installing it: it takes verified
// chunks in any order, spools them beside the destination and, on Close,
// writes a normal image file in index order — what `mcrecv --image` uses.
//
// # Manifest, signatures, encryption
//
// The checksums catch accidents; against deliberate changes every complete
// header carries ManifestRoot, which pins the SHA-256 of every encoded
// chunk (the Manifest, stored in the file's index; Reader.VerifyChunk checks
// against it). Sign signs the complete header with an OpenSSH ed25519 key
// (LoadSigningKey); TrustedKeys.Check accepts only images signed by keys
// from an authorized_keys file. MarshalMeta/ParseMeta carry header and
// signature in a multicast announce, and ManifestChecker lets a receiver
// check the manifest's parts and then each chunk before writing it.
// CreateConfig.Encrypt seals each chunk's payload with XChaCha20-Poly1305
// (Key, LoadKey); InstallConfig.Decrypt opens them. The manifest covers
// the sealed bytes, so an encrypted image is verified and served without
// its key.
//
// # Block map
//
// Every image (but an encrypted one) carries a BlockMap: its used extents,
// its chunks' spans and the SHA-256 of the used bytes of every aligned
// block (CreateConfig.BlockSize, 16 KiB by default). The manifest root
// commits to it (its pieces end the manifest table), so a signature covers
// it; a session carries it as further manifest parts (ManifestChecker.BlockMap
// once they are in); the image file keeps it in the index (Reader.BlockMap).
// HashTarget hashes a target against it on all cores, and HeldChunks says
// which chunks the target already holds whole: what a resumed receiver
// need not fetch. Installer.Held records such a chunk as written without
// data; Installer.SetPresent makes every later chunk write only the blocks
// the target lacks (AwaitPresent holds writes back until then).
//
// # Incremental images
//
// CreateIncremental writes an increment of a new disk against a base image:
// its header names the base (DeltaBase, BaseRoot: ID and manifest root, so
// no other base is accepted, ErrWrongBase), its block map is the new disk's
// whole map, and its chunks hold only the blocks whose hash the base's map
// lacks; every other block is read from the base (at the same place or
// relocated anywhere). ApplyIncremental rebuilds the new disk from the
// increment and its base, checking every block against the new map;
// VerifyIncremental checks without writing. Installers refuse increments.
//
// # Errors
//
// Errors wrap sentinels (ErrCorrupt, ErrTruncated, ErrForeignImage,
// ErrTargetTooSmall, ErrIncomplete, ErrVersion; ErrUnsigned, ErrUntrusted,
// ErrManifest, ErrManifestPending, ErrKey for trust) for errors.Is; chunk
// problems are *ChunkError values naming the chunk's index and, when it
// came from a file, its offset.
package image
