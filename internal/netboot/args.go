package netboot

import "strconv"

// ReceiverArgs is mcrecv's command line for c, receiving on iface into
// target. It asks for progress lines (the console is no terminal) and
// waits for a sender for as long as it takes: a machine booted for imaging
// has nothing else to do.
func ReceiverArgs(c Config, iface, target string) []string {
	args := []string{"--progress", "--interface", iface}
	if c.Group.IsValid() {
		args = append(args, "--mcast-data-address", c.Group.String())
	}
	if c.Port != 0 {
		args = append(args, "--portbase", strconv.Itoa(c.Port))
	}
	if c.Key != "" {
		args = append(args, "--key", c.Key)
	}
	if c.Trust != "" {
		args = append(args, "--trust", c.Trust)
	}
	if c.Grow {
		args = append(args, "--grow")
	}
	if c.Memory != "" {
		args = append(args, "--memory", c.Memory)
	}
	return append(args, target)
}
