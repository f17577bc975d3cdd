package layout_test

import (
	"context"
	"fmt"
	"log"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/layout"
)

// After installing an image onto a disk of another size, fix its tables
// and grow its last partition and filesystem to fill the disk.
func ExampleFitPath() {
	r, err := image.OpenFile("lab.dsc")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	// ... install r onto /dev/sdb (image.NewInstaller), close it, then:
	res, fr, err := layout.FitPath(context.Background(), "/dev/sdb", r.Header().TargetSize, layout.Config{Grow: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(layout.Summary(res, fr))
}
