package repo

import (
	"context"
	"io"

	"github.com/discuscast/discus/image"
)

// ExportIncremental writes the image called name as an incremental image
// against base (image.CreateIncremental): only the blocks whose content base
// lacks. base is an image file, not a repository name: an increment names
// its base by image ID and manifest root, which only a written image has
// (the receivers hold that file's disk; `repo export` of the base makes one).
func (r *Repo) ExportIncremental(ctx context.Context, name string, base *image.Reader, w io.Writer, cfg image.CreateConfig) (*image.Header, image.CreateStats, image.IncrementalStats, error) {
	d, err := r.OpenDisk(name)
	if err != nil {
		return nil, image.CreateStats{}, image.IncrementalStats{}, err
	}
	cfg.Used = d.UsedForCreate()
	return image.CreateIncremental(ctx, d.Source(), base, w, cfg)
}
