package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
)

func cmdInfo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	pos, err := parseFlags(fs, args, 1, "IMAGE")
	if err != nil {
		return err
	}
	var h *image.Header
	var fileSize int64
	var fsm *fsmap.Map
	var fsErr error
	if pos[0] == "-" {
		// A stream has its index at the end: read it all.
		cr := &countReader{r: os.Stdin}
		h, err = image.ScanStream(ctx, cr, nil, func(int, []byte) error { return nil })
		fileSize = cr.n
	} else {
		var r *image.Reader
		if r, err = image.OpenFile(pos[0]); err == nil {
			defer r.Close()
			h = r.Header()
			if st, serr := os.Stat(pos[0]); serr == nil {
				fileSize = st.Size()
			}
			fsm, fsErr = diskMap(r)
		}
	}
	if err != nil {
		return err
	}
	printHeader(h, fileSize)
	switch {
	case fsErr != nil:
		return fsErr
	case fsm != nil:
		fmt.Println("partitions (read from the image's own filesystem metadata):")
		printPartitions(os.Stdout, fsm)
	}
	return nil
}

func printHeader(h *image.Header, fileSize int64) {
	created := "unknown"
	if !h.Created.IsZero() {
		created = h.Created.Format(time.RFC3339)
	}
	fmt.Printf("image id:     %s\n", h.ID)
	fmt.Printf("created:      %s\n", created)
	fmt.Printf("source:       %s\n", h.Source)
	fmt.Printf("target size:  %d (%s), sector size %d\n", h.TargetSize, human(h.TargetSize), h.SectorSize)
	fmt.Printf("chunks:       %d of at most %s\n", h.ChunkCount, human(int64(h.ChunkSize)))
	fmt.Printf("codec:        %s level %d\n", h.Codec, h.Level)
	fmt.Printf("data bytes:   %d (%s)\n", h.DataBytes, human(h.DataBytes))
	fmt.Printf("skipped:      %d zero (%s), %d unused (%s)\n", h.ZeroBytes, human(h.ZeroBytes), h.UnusedBytes, human(h.UnusedBytes))
	fmt.Printf("stored bytes: %d (%s), ratio %.2f:1\n", h.StoredBytes, human(h.StoredBytes), h.Ratio())
	if fileSize > 0 {
		fmt.Printf("file size:    %d (%s)\n", fileSize, human(fileSize))
	}
}

type countReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
