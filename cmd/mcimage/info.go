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
	decrypt := fs.String("decrypt", "", "key `FILE` of an encrypted image, to show its partitions")
	pos, err := parseFlags(fs, args, 1, "IMAGE")
	if err != nil {
		return err
	}
	var key *image.Key
	if *decrypt != "" {
		if key, err = image.LoadKey(*decrypt); err != nil {
			return err
		}
	}
	var h *image.Header
	var sig *image.Signature
	hidden := false // partitions not shown: encrypted, no key
	var fileSize int64
	var fsm *fsmap.Map
	var fsErr error
	var newUsed int64 = -1 // an increment's new disk's used bytes
	if pos[0] == "-" {
		// A stream has its index at the end: read it all.
		cr := &countReader{r: os.Stdin}
		h, sig, err = image.ScanStreamSigned(ctx, cr, nil, func(int, []byte) error { return nil })
		fileSize = cr.n
	} else {
		var r *image.Reader
		if r, err = image.OpenFile(pos[0]); err == nil {
			defer r.Close()
			h, sig = r.Header(), r.Signature()
			if st, serr := os.Stat(pos[0]); serr == nil {
				fileSize = st.Size()
			}
			switch {
			case !h.DeltaBase.IsZero():
				// Its chunks hold only what the base lacks: the disk
				// they read as is not the new disk.
				if bm := r.BlockMap(); bm != nil {
					newUsed = bm.UsedBytes()
				}
			case h.Encrypted && key == nil:
				hidden = true
			default:
				fsm, fsErr = diskMap(r, key)
			}
		}
	}
	if err != nil {
		return err
	}
	printHeader(h, fileSize)
	printTrust(h, sig)
	if !h.DeltaBase.IsZero() {
		fmt.Printf("increment:    against base image %s (manifest root %x)\n", h.DeltaBase, h.BaseRoot)
		if newUsed > 0 {
			fmt.Printf("              holds %s of the new disk's %s used (%.1f %%), %s stored; the rest comes from the base\n",
				human(h.DataBytes), human(newUsed), 100*float64(h.DataBytes)/float64(newUsed), human(h.StoredBytes))
		}
		fmt.Println("partitions:   not shown for an increment (mcimage extract --base BASE rebuilds the disk)")
	}
	if hidden {
		fmt.Println("partitions:   not shown: the image is encrypted (give --decrypt KEYFILE)")
	}
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

func printTrust(h *image.Header, sig *image.Signature) {
	if sig == nil {
		fmt.Println("signature:    unsigned")
	} else {
		fmt.Printf("signature:    signed by %s (ed25519)\n", sig.Fingerprint())
	}
	if h.Encrypted {
		fmt.Printf("encrypted:    yes, XChaCha20-Poly1305, key ID %s\n", h.KeyID)
	} else {
		fmt.Println("encrypted:    no")
	}
	fmt.Printf("manifest:     root %x, %d parts\n", h.ManifestRoot, h.ManifestParts())
	if h.BlockMapLen > 0 {
		keyed := ""
		if h.Encrypted {
			keyed = ", keyed with the image key"
		}
		fmt.Printf("block map:    %d KiB blocks, %d bytes%s\n", h.BlockSize>>10, h.BlockMapLen, keyed)
	} else {
		fmt.Println("block map:    none")
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
