package layout

import (
	"fmt"
	"strings"
)

// Summary says in one line what Fit and ResizeFS did, for an operator:
// empty when nothing was to be done.
func Summary(res *Result, fr FSResult) string {
	if res == nil || res.Scheme == "" {
		return ""
	}
	var parts []string
	if res.Moved {
		parts = append(parts, fmt.Sprintf("GPT backup header and table moved to the end of the %s target", mibs(res.Size)))
	}
	if rp := res.Resized; rp != nil {
		verb := "grown"
		if rp.Shrunk() {
			verb = "shrunk"
		}
		if rp.Index == 0 {
			parts = append(parts, fmt.Sprintf("a bare filesystem of %s on a %s target", mibs(rp.OldSize), mibs(rp.NewSize)))
		} else {
			parts = append(parts, fmt.Sprintf("partition %d %s from %s to %s", rp.Index, verb, mibs(rp.OldSize), mibs(rp.NewSize)))
		}
		switch {
		case fr.Resized:
			parts = append(parts, fmt.Sprintf("its %s filesystem %s to fill it", fr.FS, verb))
		case fr.Note != "":
			parts = append(parts, fr.Note)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ")
}

func mibs(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
