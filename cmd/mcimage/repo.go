package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/image/repo"
	"github.com/discuscast/discus/internal/cli"
)

const repoUsage = `usage:
  mcimage repo init [--block-size N] [--frame-size N] DIR
  mcimage repo add [--base NAME] [--raw] [--keep-gaps] [--level N] [--quiet] DIR NAME SRC
  mcimage repo ls DIR
  mcimage repo export [--chunk-size N] [--level N] [--sign KEY] [--base BASE.dsc] DIR NAME IMAGE
  mcimage repo rm DIR NAME
  mcimage repo gc DIR
  mcimage repo verify DIR

A repository stores many images as one set of unique zstd-compressed blocks
(16 KiB by default, SHA-256 addressed): an image costs what it does not share.
add is filesystem-aware like create; export writes a normal Discus image;
mcsend serves an image straight from a repository: mcsend repo:DIR/NAME.
`

// cmdRepo dispatches `mcimage repo SUBCOMMAND`.
func cmdRepo(ctx context.Context, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("%w: repo needs a subcommand\n%s", errUsage, repoUsage)
	}
	sub := map[string]func(context.Context, []string) error{
		"init": repoInit, "add": repoAdd, "ls": repoLs, "export": repoExport,
		"rm": repoRm, "gc": repoGC, "verify": repoVerify,
	}[args[0]]
	if sub == nil {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Print(repoUsage + "\n" + cli.ExitCodesHelp)
			return nil
		}
		return fmt.Errorf("%w: unknown repo subcommand %q\n%s", errUsage, args[0], repoUsage)
	}
	return sub(ctx, args[1:])
}

// parseAnywhere is parseFlags allowing flags after the positional
// arguments too (`repo add DIR NAME SRC --base OLD`).
func parseAnywhere(fs *flag.FlagSet, args []string, n int, names string) ([]string, error) {
	name := "mcimage repo " + fs.Name()
	cli.SetUsage(fs, "usage: "+name+" [flags] "+names)
	var pos []string
	for {
		if code, ok := cli.Parse(fs, name, args, os.Stdout, os.Stderr); !ok {
			return nil, exitNow(code)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != n {
		return nil, fmt.Errorf("%w: want %s", errUsage, names)
	}
	return pos, nil
}

func repoInit(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	bs := cli.SizeFlag(repo.DefaultBlockSize)
	fs.Var(&bs, "block-size", "block size, a power of two 4K..1M: the unit of sharing")
	frame := cli.SizeFlag(0)
	fs.Var(&frame, "frame-size", "uncompressed bytes compressed together (default 4M)")
	pos, err := parseAnywhere(fs, args, 1, "DIR")
	if err != nil {
		return err
	}
	if err := repo.Init(pos[0], repo.Config{BlockSize: int(bs), FrameSize: int(frame)}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: empty repository, %s blocks\n", pos[0], human(int64(bs)))
	return nil
}

func repoAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("add", flag.ContinueOnError)
	base := fs.String("base", "", "the image of the repository this one derives from (ls shows the increment)")
	raw := fs.Bool("raw", false, "store every byte: do not read filesystem metadata to skip free space")
	keepGaps := fs.Bool("keep-gaps", false, "keep the unallocated space outside partitions too")
	level := fs.Int("level", 3, "zstd compression level 1..22")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	pos, err := parseAnywhere(fs, args, 3, "DIR NAME SRC")
	if err != nil {
		return err
	}
	if *level < 1 || *level > 22 {
		return fmt.Errorf("%w: --level %d outside 1..22", errUsage, *level)
	}
	if err := repo.CheckName(pos[1]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	r, err := repo.Open(pos[0], nil)
	if err != nil {
		return err
	}
	defer r.Close()
	opt := repo.AddOptions{Base: *base, Source: pos[2], Level: *level}
	var src *image.Source
	if isImage, err := image.IsImageFile(pos[2]); err == nil && isImage {
		// A Discus image: its disk, read (and checked) chunk by chunk.
		if src, opt.Used, err = imageSource(pos[2]); err != nil {
			return err
		}
	} else {
		var fsm *fsmap.Map
		src, fsm, err = fsmap.OpenSourceWith(pos[2], fsmap.SourceOptions{Raw: *raw, KeepGaps: *keepGaps, Logger: warnLogger(*quiet)})
		if err != nil {
			return err
		}
		if fsm != nil {
			opt.Used = fsm.Used
		}
	}
	defer src.Close()
	if src.Size() == 0 && pos[2] != "-" {
		return fmt.Errorf("%s: %w", pos[2], cli.ErrEmptySource)
	}
	pr := newProgress("add")
	opt.Progress = pr.update
	st, err := r.AddSource(ctx, pos[1], src, opt)
	pr.done()
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "%s: %s used in %d blocks: %d zero, %d already stored, %d new (%s, %s compressed); %.1fs\n",
			pos[1], human(st.UsedBytes), st.Blocks, st.ZeroBlocks, st.DupBlocks, st.NewBlocks,
			human(st.NewBytes), human(st.StoredBytes+st.RecipeBytes), st.Elapsed.Seconds())
	}
	return nil
}

func repoLs(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	bytes := fs.Bool("bytes", false, "print sizes in bytes")
	pos, err := parseAnywhere(fs, args, 1, "DIR")
	if err != nil {
		return err
	}
	r, err := repo.Open(pos[0], nil)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := r.Stats()
	if err != nil {
		return err
	}
	printRepoStats(os.Stdout, st, *bytes)
	return nil
}

func printRepoStats(w io.Writer, st repo.Stats, exact bool) {
	sz := func(n float64) string {
		if exact {
			return fmt.Sprintf("%d", int64(n+0.5))
		}
		return human(int64(n + 0.5))
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "NAME\tDISK\tLOGICAL\tDATA\tSTORED\tSHARED\tUNIQUE\tBASE\tNEW vs BASE\t")
	for _, s := range st.Images {
		basecol, newcol := "-", "-"
		if s.Base != "" {
			basecol, newcol = s.Base, sz(s.BaseNewBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, sz(float64(s.TargetSize)),
			sz(float64(s.UsedBytes)), sz(float64(s.DataBytes)), sz(s.StoredBytes), sz(s.SharedBytes),
			sz(s.UniqueBytes()), basecol, newcol)
	}
	tw.Flush()
	fmt.Fprintf(w, "repository: %d images, %d unique %s blocks; %s on disk (packs %s, recipes %s, catalog %s); %s unreferenced (gc frees it)\n",
		len(st.Images), st.Blocks, human(int64(st.BlockSize)), sz(float64(st.TotalBytes())), sz(float64(st.PackBytes)),
		sz(float64(st.RecipeBytes)), sz(float64(st.CatalogBytes)), sz(st.GarbageBytes))
}

func repoExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	chunk := cli.SizeFlag(image.DefaultChunkSize)
	fs.Var(&chunk, "chunk-size", "encoded chunk size, 64K..16M")
	level := fs.Int("level", 1, "zstd compression level 1..22 of the image")
	signKey := fs.String("sign", "", "sign the image with this OpenSSH ed25519 private key `FILE`")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	baseFile := fs.String("base", "", "write an increment against the image file `BASE.dsc` (e.g. an export of the base): only the blocks it lacks")
	pos, err := parseAnywhere(fs, args, 3, "DIR NAME IMAGE")
	if err != nil {
		return err
	}
	if chunk < image.MinChunkSize || chunk > image.MaxChunkSize {
		return fmt.Errorf("%w: --chunk-size %d outside 64K..16M", errUsage, chunk)
	}
	if *level < 1 || *level > 22 {
		return fmt.Errorf("%w: --level %d outside 1..22", errUsage, *level)
	}
	cfg := image.CreateConfig{ChunkSize: int(chunk), Level: *level}
	if *signKey != "" {
		if cfg.Sign, err = image.LoadSigningKey(*signKey); err != nil {
			return err
		}
	}
	var base *image.Reader
	if *baseFile != "" {
		if base, err = image.OpenFile(*baseFile); err != nil {
			return fmt.Errorf("--base %s: %w", *baseFile, err)
		}
		defer base.Close()
	}
	r, err := repo.Open(pos[0], nil)
	if err != nil {
		return err
	}
	defer r.Close()
	out := pos[2]
	if out == "-" {
		return fmt.Errorf("%w: export writes a file (its signature goes at the end)", errUsage)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	pr := newProgress("export")
	cfg.Progress = func(st image.CreateStats) { pr.update(st.Position, -1) }
	var h *image.Header
	var st image.CreateStats
	var ist image.IncrementalStats
	if base != nil {
		h, st, ist, err = r.ExportIncremental(ctx, pos[1], base, f, cfg)
	} else {
		h, st, err = r.Export(ctx, pos[1], f, cfg)
	}
	pr.done()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out) // never leave a half image that looks like one
		return err
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "%s: %d chunks, %s of %s stored (%.1f:1), %s zero, %s unused, %.1fs; %s\n",
			out, h.ChunkCount, human(h.StoredBytes), human(h.TargetSize), h.Ratio(),
			human(h.ZeroBytes), human(h.UnusedBytes), st.Elapsed.Seconds(), signedBy(st.Signature))
		if base != nil {
			fmt.Fprintf(os.Stderr, "%s: increment against %s: %d of %d blocks stored (%s of %s used), %d at the same place, %d relocated\n",
				out, *baseFile, ist.LiteralBlocks, ist.Blocks, human(ist.LiteralBytes), human(ist.UsedBytes), ist.SamePlace, ist.Relocated)
		}
	}
	return nil
}

func repoRm(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("rm", flag.ContinueOnError)
	pos, err := parseAnywhere(fs, args, 2, "DIR NAME")
	if err != nil {
		return err
	}
	r, err := repo.Open(pos[0], nil)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Remove(pos[1]); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: removed; its blocks stay until repo gc\n", pos[1])
	return nil
}

func repoGC(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	level := fs.Int("level", 3, "zstd level for packs that are rewritten")
	pos, err := parseAnywhere(fs, args, 1, "DIR")
	if err != nil {
		return err
	}
	r, err := repo.Open(pos[0], nil)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := r.GC(ctx, *level)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %s freed; packs: %d kept, %d removed, %d rewritten, %d merged; %d blocks dropped; %d stray files removed\n",
		pos[0], human(st.FreedBytes), st.PacksKept, st.PacksRemoved, st.PacksRewritten, st.PacksMerged, st.BlocksDropped, st.StrayFiles)
	return nil
}

func repoVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	pos, err := parseAnywhere(fs, args, 1, "DIR")
	if err != nil {
		return err
	}
	r, err := repo.Open(pos[0], nil)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := r.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: OK: %d images, %d packs, %d blocks (%s) checked\n", pos[0], st.Images, st.Packs, st.Blocks, human(st.Bytes))
	return nil
}

// imageSource opens a Discus image file as a repository source: the disk
// it holds, and as used ranges the extents of its block map (or, without
// one, what a scan of its filesystems finds, as mcimage info does).
func imageSource(path string) (*image.Source, []image.Range, error) {
	r, err := image.OpenFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Header().Encrypted {
		r.Close()
		return nil, nil, fmt.Errorf("%s: an encrypted image cannot be added (its blocks must be read)", path)
	}
	var used []image.Range
	if bm := r.BlockMap(); bm != nil {
		used = append([]image.Range{}, bm.Extents()...)
	} else if m, err := fsmap.ScanImage(r, nil); err == nil {
		used = m.Used
	}
	d, err := image.NewDiskReader(r)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	src := image.NewSource(d, d.Size())
	src.SetSectorSize(r.Header().SectorSize)
	return src, used, nil
}
