package netboot

import "testing"

func TestParseAdd(t *testing.T) {
	for in, want := range map[string]AddFile{
		"lab.key":                 {Src: "lab.key", Dst: "/etc/discus/lab.key"},
		"/x/lab-signing.pub":      {Src: "/x/lab-signing.pub", Dst: "/etc/discus/lab-signing.pub"},
		"busybox:/bin/sh":         {Src: "busybox", Dst: "/bin/sh"},
		"k:/etc/discus/other.key": {Src: "k", Dst: "/etc/discus/other.key"},
	} {
		got, err := ParseAdd(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"", ":/bin/sh", "a:rel/path", "a:/etc/../x", "a:/"} {
		if got, err := ParseAdd(in); err == nil {
			t.Errorf("%q accepted: %+v", in, got)
		}
	}
}
