package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/mcast/wire"
)

// Release names the release the commands were built from. Release builds set
// it with -ldflags "-X github.com/discuscast/discus/internal/cli.Release=v1.2.0";
// otherwise the module version from the build info is used, or "devel".
var Release string

// release returns Release, the main module's version, or "devel" with the
// VCS revision go build recorded (so two devel builds can still be told apart).
func release() string {
	if Release != "" {
		return Release
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+modified"
	}
	return "devel (" + rev + ")"
}

// Version is the --version text of the command name: the release, then the
// wire protocol and image format versions, read from the constants the code
// uses (nodes of different protocol versions ignore each other).
func Version(name string) string {
	return fmt.Sprintf("%s %s\nprotocol version %d, image format version %d, %s %s/%s\n",
		name, release(), wire.Version, image.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
