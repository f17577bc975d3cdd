// Package fsmap finds the bytes of a disk that matter: it reads partition
// tables and filesystem metadata and returns the ranges in use, so that an
// image skips free space.
package fsmap
