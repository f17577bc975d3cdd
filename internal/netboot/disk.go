package netboot

import (
	"errors"
	"fmt"
	"strings"
)

// Disk is a candidate target for discus.target=auto.
type Disk struct {
	Name  string // as in /sys/block: vda, sda, nvme0n1
	Size  int64  // bytes
	Empty bool   // its first and last MiB are zeros: no partition table, no filesystem
}

// ErrNoTarget is returned when discus.target=auto finds no disk to take,
// or several: init never chooses between disks.
var ErrNoTarget = errors.New("no single empty disk")

// skipDisk says which /sys/block names are never targets: loop, RAM and
// optical devices, device-mapper and software RAID made by someone else.
func skipDisk(name string) bool {
	for _, p := range []string{"loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd", "mtdblock"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// PickDisk chooses the target for discus.target=auto: the one empty disk.
func PickDisk(disks []Disk) (string, error) {
	var empty, full []string
	for _, d := range disks {
		if skipDisk(d.Name) || d.Size <= 0 {
			continue
		}
		if d.Empty {
			empty = append(empty, d.Name)
		} else {
			full = append(full, d.Name)
		}
	}
	switch len(empty) {
	case 1:
		return "/dev/" + empty[0], nil
	case 0:
		return "", fmt.Errorf("%w: no empty disk (disks holding data: %s); set discus.target=/dev/NAME to overwrite one",
			ErrNoTarget, orNone(full))
	default:
		return "", fmt.Errorf("%w: %d empty disks (%s); set discus.target=/dev/NAME", ErrNoTarget, len(empty), strings.Join(empty, " "))
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
