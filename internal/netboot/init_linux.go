package netboot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Timeouts for hardware to appear after its driver loaded. Generous: TCG
// virtual machines and servers with slow NICs both take seconds.
const (
	deviceWait = 60 * time.Second
)

// RunInit is the initramfs's /init. It never returns: it powers off or
// reboots after success, and after a failure stops with the reason on
// the console (the kernel would panic, and with panic= reboot, if init
// returned, and a reboot must not boot a half-written disk).
func RunInit() {
	start := time.Now()
	mountAll()
	logf("Discus netboot init")
	err := initSteps(start)
	if err != nil {
		halt(err)
	}
	// unreachable: initSteps ends in then()
	halt(errors.New("init ended"))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "discus [%8.3f] %s\n", uptime(), fmt.Sprintf(format, args...))
}

func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

func halt(err error) {
	logf("DISCUS FAILED: %v", err)
	logf("stopped: the disk is not to be booted; fix the cause and netboot again")
	unix.Sync()
	for {
		time.Sleep(time.Hour)
	}
}

func initSteps(start time.Time) error {
	raw, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	cfg, err := ParseCmdline(string(raw))
	if err != nil {
		return err
	}
	cfg = cfg.Defaults()
	if cfg.Target == "" {
		return errors.New("no discus.target= on the kernel command line (a disk such as /dev/vda, or auto)")
	}
	if err := loadModules(); err != nil {
		return err
	}
	iface, err := waitIface(cfg.Iface)
	if err != nil {
		return err
	}
	if err := configureNet(cfg, iface); err != nil {
		return err
	}
	target, err := resolveTarget(cfg.Target)
	if err != nil {
		return err
	}
	for _, f := range []string{cfg.Key, cfg.Trust} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("%v (add it with mcinitrd --add)", err)
			}
		}
	}
	if cfg.Grow && !receiverHasFlag("grow") {
		return errors.New("discus.grow=1: grow not supported by this mcrecv")
	}
	if cfg.Memory != "" && !receiverHasFlag("memory") {
		return errors.New("discus.memory=: not supported by this mcrecv")
	}
	if err := receive(cfg, iface.Name, target); err != nil {
		return err
	}
	unix.Sync()
	logf("DISCUS OK: %s written and verified in %.1fs since init; then %s", target, time.Since(start).Seconds(), cfg.Then)
	return then(cfg.Then)
}

func mountAll() {
	for _, m := range []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.typ, unix.MS_NOSUID, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Fprintf(os.Stdout, "discus: mount %s: %v\n", m.dir, err)
		}
	}
}

// loadModules inserts the modules mcinitrd put in ModulesDir, in the
// order it named them (dependencies first).
func loadModules() error {
	ents, err := os.ReadDir(ModulesDir)
	if errors.Is(err, os.ErrNotExist) {
		logf("no modules in the initramfs: the kernel has its drivers built in")
		return nil
	}
	if err != nil {
		return err
	}
	t0 := time.Now()
	var loaded, failed []string
	for _, e := range ents {
		p := filepath.Join(ModulesDir, e.Name())
		if err := insmod(p); err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", e.Name(), err))
			continue
		}
		loaded = append(loaded, e.Name())
	}
	logf("loaded %d modules in %.2fs", len(loaded), time.Since(t0).Seconds())
	if len(failed) > 0 {
		logf("modules that did not load: %s", strings.Join(failed, ", "))
	}
	return nil
}

func insmod(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	err = unix.FinitModule(int(f.Fd()), "", flags)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// waitIface waits for the named interface, or the first Ethernet one.
func waitIface(name string) (*net.Interface, error) {
	deadline := time.Now().Add(deviceWait)
	for {
		if name != "" {
			if ifc, err := net.InterfaceByName(name); err == nil {
				return ifc, nil
			}
		} else if ifc := firstEthernet(); ifc != nil {
			return ifc, nil
		}
		if time.Now().After(deadline) {
			have, _ := net.Interfaces()
			var names []string
			for _, i := range have {
				names = append(names, i.Name)
			}
			want := "an Ethernet interface"
			if name != "" {
				want = name
			}
			return nil, fmt.Errorf("no %s after %v (interfaces: %s); is its driver in the initramfs?", want, deviceWait, strings.Join(names, " "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstEthernet() *net.Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Name < ifs[j].Name })
	for _, i := range ifs {
		typ, _ := os.ReadFile("/sys/class/net/" + i.Name + "/type")
		if strings.TrimSpace(string(typ)) == "1" && len(i.HardwareAddr) == 6 && i.Flags&net.FlagLoopback == 0 {
			return &i
		}
	}
	return nil
}

func configureNet(cfg Config, ifc *net.Interface) error {
	if lo, err := net.InterfaceByName("lo"); err == nil {
		linkUp(lo.Index)
	}
	if err := linkUp(ifc.Index); err != nil {
		return fmt.Errorf("%s up: %w", ifc.Name, err)
	}
	addr, via := cfg.Addr, netip.Addr{}
	var dl *lease
	if !addr.IsValid() {
		logf("%s (%s) up; asking DHCP for an address", ifc.Name, ifc.HardwareAddr)
		l, err := dhcpLease(context.Background(), ifc.Name, logf)
		if err != nil {
			return err
		}
		addr, via, dl = l.Addr, l.Router, &l
		logf("DHCP: %s from %s, router %v, lease %v", addr, l.Server, via, l.Time)
	}
	if err := addAddr(ifc.Index, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, ifc.Name, err)
	}
	// Multicast goes out of this interface whatever else routes say.
	if err := addRoute(ifc.Index, netip.MustParsePrefix("224.0.0.0/4"), netip.Addr{}); err != nil {
		return fmt.Errorf("multicast route: %w", err)
	}
	if via.IsValid() {
		if err := addRoute(ifc.Index, netip.PrefixFrom(netip.IPv4Unspecified(), 0), via); err != nil {
			logf("default route via %s: %v (not needed on one link)", via, err)
		}
	}
	logf("network up: %s on %s (%s)", addr, ifc.Name, ifc.HardwareAddr)
	if dl != nil {
		// Renewed at T1 while mcrecv works: init outlives it (it waits for mcrecv).
		go keepLease(context.Background(), ifc.Name, *dl, logf)
	}
	return nil
}

// resolveTarget waits for the named disk, or picks the single empty one.
func resolveTarget(t string) (string, error) {
	deadline := time.Now().Add(deviceWait)
	for {
		if t != "auto" {
			if fi, err := os.Stat(t); err == nil && fi.Mode()&os.ModeDevice != 0 {
				return t, nil
			}
		} else if disks := scanDisks(); len(disks) > 0 {
			// Disks probe in parallel: give the others a moment to appear
			// before deciding there is only one.
			time.Sleep(2 * time.Second)
			p, err := PickDisk(scanDisks())
			if err == nil {
				logf("discus.target=auto: %s, the only empty disk", p)
			}
			return p, err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no disk %s after %v; is its driver in the initramfs?", t, deviceWait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func scanDisks() []Disk {
	ents, _ := os.ReadDir("/sys/block")
	var out []Disk
	for _, e := range ents {
		if skipDisk(e.Name()) {
			continue
		}
		b, _ := os.ReadFile("/sys/block/" + e.Name() + "/size")
		sectors, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		d := Disk{Name: e.Name(), Size: sectors * 512}
		if d.Size > 0 {
			d.Empty = isEmpty("/dev/"+d.Name, d.Size)
		}
		out = append(out, d)
	}
	return out
}

// isEmpty says whether a disk's first and last MiB are zeros, where a
// partition table (MBR, GPT and its backup) or a filesystem would be.
func isEmpty(dev string, size int64) bool {
	f, err := os.Open(dev)
	if err != nil {
		return false
	}
	defer f.Close()
	const span = 1 << 20
	buf := make([]byte, min(span, size))
	for _, off := range []int64{0, max(0, size-span)} {
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return false
		}
		if !allZero(buf) {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	return len(bytes.TrimLeft(b, "\x00")) == 0
}

// receiverHasFlag asks the included mcrecv's --help whether it knows a flag.
func receiverHasFlag(name string) bool {
	out, _ := exec.Command(ReceiverPath, "--help").CombinedOutput()
	return bytes.Contains(out, []byte("-"+name+" ")) || bytes.Contains(out, []byte("-"+name+"\n"))
}

// receive runs mcrecv with its output on the console and reports its
// peak memory: its rusage's ru_maxrss is the VmHWM its /proc/self/status
// showed at the end.
func receive(cfg Config, iface, target string) error {
	args := ReceiverArgs(cfg, iface, target)
	logf("starting %s %s", ReceiverPath, strings.Join(args, " "))
	cmd := exec.Command(ReceiverPath, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	if st := cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			logf("mcrecv: %.1fs, user %.1fs, system %.1fs, peak RSS (VmHWM) %.1f MiB",
				el.Seconds(), tv(ru.Utime), tv(ru.Stime), float64(ru.Maxrss)/1024)
		}
	}
	if err != nil {
		return fmt.Errorf("mcrecv: %v; %s may be half written", err, target)
	}
	return nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func then(t Then) error {
	switch t {
	case ThenReboot:
		return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	case ThenShell:
		if _, err := os.Stat(ShellPath); err != nil {
			logf("discus.then=shell: no %s in the initramfs (mcinitrd --add a static shell:%s); waiting here", ShellPath, ShellPath)
			for {
				time.Sleep(time.Hour)
			}
		}
		keepShell(ShellPath, 0, time.Sleep)
		return nil
	default:
		return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
}
