// Package repo is a partition repository: many disk images stored as one
// set of unique, compressed, content-addressed blocks (after Rauch et al.,
// "Partition Repositories for Partition Cloning"). A release history and
// the machines localized from it share almost all their blocks, so the
// repository holds a base image and each further image costs about what
// it changed.
//
// # Layout
//
// A repository is a directory (docs/FORMAT.md, "Partition repository",
// specifies every byte):
//
//	catalog           the commit point: block size, packs, images by name
//	packs/N.pack      unique blocks, grouped into zstd frames, with an index
//	images/H.rcp      one recipe per image, named by its SHA-256: the used
//	                  ranges and, per block of them, its content hash
//	lock              flock(2) taken by every change
//
// Every image is cut into aligned blocks of the repository's block size
// (16 KiB by default). A block's bytes outside the image's used ranges are
// zero in the repository, so free space never costs anything; an all-zero
// block is not stored at all, and a block already in the repository (from
// any image, or earlier in the same one) is stored once.
//
// # Crash safety
//
// Add writes new packs and the recipe under temporary names, fsyncs them,
// renames them into place and only then replaces the catalog (a temporary
// file, fsync, rename, directory fsync). Readers see only what the catalog
// names, so an add interrupted at any point leaves the repository as it
// was; GC deletes what no catalog entry names.
//
// # Hostile input
//
// The catalog pins each pack's index and each recipe by SHA-256, and every
// block is checked against its SHA-256 when read: a damaged repository
// gives errors wrapping image.ErrCorrupt, never a wrong image. Counts and
// lengths are checked against the bytes present before anything is
// allocated.
package repo
