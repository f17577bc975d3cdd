// Package image defines Discus's disk image: a sequence of self-describing,
// independently compressed chunks, and the code that creates and installs it.
package image
