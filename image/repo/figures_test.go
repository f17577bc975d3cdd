package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/klauspost/compress/zstd"
)

// TestReleaseFigures prints Rauch et al.'s tables (seed 003: Table 1
// full images vs block-wise diff vs repository, Table 4 the cost of a
// localized copy) for the release series bench/releases.sh builds. It runs
// only with DISCUS_RELEASES=DIR (bench/repo-figures.sh sets it).
func TestReleaseFigures(t *testing.T) {
	dir := os.Getenv("DISCUS_RELEASES")
	if dir == "" {
		t.Skip("set DISCUS_RELEASES to bench/cache/releases (bench/repo-figures.sh)")
	}
	names := []string{"base", "update", "upgrade", "local-1", "local-2", "local-3"}
	type input struct {
		path string
		used []image.Range
	}
	in := map[string]input{}
	for _, n := range names {
		p := filepath.Join(dir, n+".img")
		src, m, err := fsmap.OpenSource(p, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		in[n] = input{p, m.Used}
	}
	out := &strings.Builder{}
	pr := func(format string, a ...any) { fmt.Fprintf(out, format, a...) }
	mb := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/1e6) }

	// Full images, as mcimage create makes them (fs-aware, zstd level 1
	// and 3, 1 MiB chunks).
	full := map[string][2]int64{}
	for _, n := range names {
		var sizes [2]int64
		for i, level := range []int{1, 3} {
			src, err := image.OpenSource(in[n].path)
			if err != nil {
				t.Fatal(err)
			}
			var cw countWriter
			if _, _, err := image.Create(context.Background(), src, &cw, image.CreateConfig{Used: in[n].used, Level: level}); err != nil {
				t.Fatal(err)
			}
			src.Close()
			sizes[i] = cw.n
		}
		full[n] = sizes
	}
	pr("Full images (mcimage create: used ranges only, 1 MiB chunks), MB:\n\n")
	pr("| image | used | image, zstd 1 | image, zstd 3 |\n| --- | ---: | ---: | ---: |\n")
	for _, n := range names {
		pr("| %s | %s | %s | %s |\n", n, mb(sum(in[n].used)), mb(full[n][0]), mb(full[n][1]))
	}

	for _, bs := range []int{4 << 10, 16 << 10, 64 << 10} {
		// Block-wise diff: the blocks of NEW that differ from BASE at the
		// same position, zstd 3 in 4 MiB frames (what a positional delta
		// would store).
		diff := map[string][3]int64{} // changed blocks, raw bytes, compressed
		for _, n := range names[1:] {
			c, raw, z := blockDiff(t, in["base"].path, in[n].path, in[n].used, int64(bs))
			diff[n] = [3]int64{c, raw, z}
		}
		// Repository: base, then the copies and the upgrade.
		r := newRepo(t, Config{BlockSize: bs})
		steps := map[string][2]int64{} // total on disk after, increment
		prev := int64(0)
		var addTime time.Duration
		for _, n := range []string{"base", "local-1", "local-2", "local-3", "update", "upgrade"} {
			base := ""
			if n != "base" {
				base = "base"
			}
			src, err := image.OpenSource(in[n].path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.AddSource(context.Background(), n, src, AddOptions{Used: in[n].used, Base: base, Source: n})
			src.Close()
			if err != nil {
				t.Fatal(err)
			}
			addTime += st.Elapsed
			rs, err := r.Stats()
			if err != nil {
				t.Fatal(err)
			}
			steps[n] = [2]int64{rs.TotalBytes(), rs.TotalBytes() - prev}
			prev = rs.TotalBytes()
		}
		rs, _ := r.Stats()
		recipe := map[string]int64{}
		for _, s := range rs.Images {
			recipe[s.Name] = s.RecipeBytes
		}
		pr("\nBlock size %d KiB (repository: zstd 3 in 4 MiB frames; add of all images %.1f s):\n\n", bs>>10, addTime.Seconds())
		pr("| new image vs base | full image (zstd 1) | block-wise diff: changed blocks | diff raw MB | diff zstd MB | repository increment MB | of which recipe MB | increment / base image |\n")
		pr("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		pr("| base | %s | - | - | - | %s | %s | %.3f |\n", mb(full["base"][0]), mb(steps["base"][1]), mb(recipe["base"]),
			float64(steps["base"][1])/float64(full["base"][0]))
		for _, n := range []string{"update", "upgrade", "local-1", "local-2", "local-3"} {
			pr("| %s | %s | %d | %s | %s | %s | %s | %.4f |\n", n, mb(full[n][0]), diff[n][0], mb(diff[n][1]), mb(diff[n][2]),
				mb(steps[n][1]), mb(recipe[n]), float64(steps[n][1])/float64(full["base"][0]))
		}
		three := steps["local-3"][0]
		lim := 1.05*float64(full["base"][0]) + 3e6
		pr("\nbase + 3 localized copies: %s MB stored; target ≤ 1.05 × base image + 1 MB per copy = %s MB: %s\n",
			mb(three), mb(int64(lim)), map[bool]string{true: "met", false: "MISSED"}[float64(three) <= lim])
		var all int64
		for _, n := range names {
			all += full[n][0]
		}
		pr("all %d images: %s MB stored vs %s MB as %d full images (%.1f %%)\n", len(names), mb(rs.TotalBytes()),
			mb(all), len(names), 100*float64(rs.TotalBytes())/float64(all))
	}
	t.Log("\n" + out.String())
	if p := os.Getenv("DISCUS_FIGURES_OUT"); p != "" {
		os.WriteFile(p, []byte(out.String()), 0o644)
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func sum(rs []image.Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Len
	}
	return n
}

// blockDiff compares NEW's used blocks with BASE's bytes at the same
// positions (BASE read whole, as a positional diff would).
func blockDiff(t *testing.T, basePath, newPath string, used []image.Range, bs int64) (changed, raw, z int64) {
	t.Helper()
	bf, err := os.Open(basePath)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	nf, err := os.Open(newPath)
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(3)))
	defer enc.Close()
	size, _ := nf.Seek(0, io.SeekEnd)
	a, b := make([]byte, bs), make([]byte, bs)
	var frame []byte
	flush := func() {
		if len(frame) > 0 {
			z += int64(len(enc.EncodeAll(frame, nil)))
			frame = frame[:0]
		}
	}
	ri := 0
	usedBlocks(used, bs, func(k int64) bool {
		lo, hi := k*bs, min((k+1)*bs, size)
		x, y := a[:hi-lo], b[:hi-lo]
		clear(y)
		for ri < len(used) && used[ri].End() <= lo {
			ri++
		}
		for j := ri; j < len(used) && used[j].Off < hi; j++ {
			s, e := max(used[j].Off, lo), min(used[j].End(), hi)
			nf.ReadAt(y[s-lo:e-lo], s)
		}
		bf.ReadAt(x, lo)
		// Compare on NEW's used bytes only: the rest is not part of NEW.
		same := true
		for j := ri; j < len(used) && used[j].Off < hi && same; j++ {
			s, e := max(used[j].Off, lo), min(used[j].End(), hi)
			same = bytes.Equal(x[s-lo:e-lo], y[s-lo:e-lo])
		}
		if !same {
			changed++
			raw += int64(len(y))
			frame = append(frame, y...)
			if len(frame) >= 4<<20 {
				flush()
			}
		}
		return true
	})
	flush()
	return changed, raw, z
}
