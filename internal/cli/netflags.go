package cli

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"github.com/discuscast/discus/mcast/transport"
)

// NetFlags are the network flags both commands take, named as udpcast names
// them so existing netboot scripts keep working.
type NetFlags struct {
	Interface string
	Portbase  int
	DataAddr  string
	RdvAddr   string
	TTL       int
}

// Register adds the flags to fs.
func (n *NetFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&n.Interface, "interface", "", "network interface to use (default: the route to the group)")
	fs.IntVar(&n.Portbase, "portbase", transport.DefaultPort, "data port; control uses portbase+1")
	fs.StringVar(&n.DataAddr, "mcast-data-address", "", "multicast group for data (default "+transport.DefaultGroup.String()+")")
	fs.StringVar(&n.RdvAddr, "mcast-rdv-address", "", "multicast group for requests and reports (default: the data group)")
	fs.IntVar(&n.TTL, "ttl", 1, "multicast TTL")
}

// UDPConfig turns the flags into a transport configuration.
func (n *NetFlags) UDPConfig() (transport.UDPConfig, error) {
	cfg := transport.UDPConfig{Interface: n.Interface, Port: n.Portbase, TTL: n.TTL}
	var err error
	if n.Interface != "" {
		// Checked here, before any socket: the transport's error for a
		// missing interface is the kernel's "route ip+net: no such network
		// interface", which names neither the flag nor the interface.
		if _, err := net.InterfaceByName(n.Interface); err != nil {
			return cfg, Usagef("no network interface named %q%s", n.Interface, interfaceList())
		}
	}
	if n.DataAddr != "" {
		if cfg.Group, err = netip.ParseAddr(n.DataAddr); err != nil {
			return cfg, fmt.Errorf("--mcast-data-address: %w", err)
		}
	}
	if n.RdvAddr != "" {
		if cfg.ControlGroup, err = netip.ParseAddr(n.RdvAddr); err != nil {
			return cfg, fmt.Errorf("--mcast-rdv-address: %w", err)
		}
	}
	for _, g := range []struct {
		flag string
		a    netip.Addr
	}{{"--mcast-data-address", cfg.Group}, {"--mcast-rdv-address", cfg.ControlGroup}} {
		if g.a.IsValid() && !g.a.IsMulticast() {
			return cfg, Usagef("%s %s: not a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8)", g.flag, g.a)
		}
	}
	if n.Portbase <= 0 || n.Portbase > 65534 {
		return cfg, errors.New("--portbase: want 1..65534")
	}
	if n.TTL < 1 || n.TTL > 255 {
		return cfg, errors.New("--ttl: want 1..255")
	}
	return cfg, nil
}

// StringAlias registers name as another spelling of an existing flag.
func StringAlias(fs *flag.FlagSet, name, of string) {
	f := fs.Lookup(of)
	fs.Var(f.Value, name, "alias of --"+of)
}

// interfaceList names the interfaces there are, for the message about one
// that is not.
func interfaceList() string {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		return ""
	}
	names := make([]string, 0, len(ifs))
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return " (this machine has " + strings.Join(names, ", ") + ")"
}

// NetError rewords what the kernel says when no interface can carry the
// group: joining without --interface and without a multicast route fails
// with ENODEV ("setsockopt: no such device"), which names neither cause.
// It is a setup the command line must fix: bad usage (exit 2).
func (n *NetFlags) NetError(err error) error {
	var se *os.SyscallError
	if err == nil || !errors.As(err, &se) || se.Syscall != "setsockopt" || !errors.Is(se.Err, syscall.ENODEV) {
		return err
	}
	if n.Interface != "" {
		return Usagef("interface %q cannot join multicast groups (is it up, with multicast on?)", n.Interface)
	}
	return Usagef("no route for multicast: give --interface NAME%s, or add a route for 224.0.0.0/4", interfaceList())
}
