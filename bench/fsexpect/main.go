// Command fsexpect writes to stdout the disk a filesystem-aware Discus
// transfer must leave on a fresh (zeroed) target: the source's bytes where
// its filesystems use them (fsmap.Scan, as mcsend does for a raw source)
// and zeros everywhere else. The benchmark hashes it to check receivers.
//
//	fsexpect DISK | xxhsum -H2 -
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/discuscast/discus/image/fsmap"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fsexpect DISK")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fsexpect:", err)
		os.Exit(1)
	}
}

func run(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	m, err := fsmap.Scan(f, st.Size(), nil)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	zeros := make([]byte, 1<<20)
	var pos int64
	writeZeros := func(n int64) error {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := bw.Write(zeros[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
	for _, r := range m.Used {
		if err := writeZeros(r.Off - pos); err != nil {
			return err
		}
		if _, err := io.Copy(bw, io.NewSectionReader(f, r.Off, r.Len)); err != nil {
			return err
		}
		pos = r.Off + r.Len
	}
	if err := writeZeros(st.Size() - pos); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fsexpect: %s: %d ranges used\n", path, len(m.Used))
	return bw.Flush()
}
