//go:build !linux

package netboot

// RunInit is Linux's initramfs init; elsewhere there is none.
func RunInit() { panic("netboot: init runs on Linux only") }
