package netboot

import (
	"errors"
	"testing"
)

func TestPickDisk(t *testing.T) {
	got, err := PickDisk([]Disk{{Name: "loop0", Size: 1, Empty: true}, {Name: "sda", Size: 1 << 30}, {Name: "vda", Size: 1 << 30, Empty: true}, {Name: "sr0", Size: 1, Empty: true}})
	if err != nil || got != "/dev/vda" {
		t.Fatalf("%q %v", got, err)
	}
	for _, ds := range [][]Disk{nil, {{Name: "sda", Size: 1}}, {{Name: "vda", Size: 1, Empty: true}, {Name: "vdb", Size: 1, Empty: true}}, {{Name: "vda", Size: 0, Empty: true}}} {
		if got, err := PickDisk(ds); !errors.Is(err, ErrNoTarget) {
			t.Errorf("%v: %q %v", ds, got, err)
		}
	}
}
