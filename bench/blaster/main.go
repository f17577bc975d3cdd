// Command blaster measures what a multicast testbed carries: a sender that
// pushes fixed-size UDP datagrams to a group as fast as batched sendmmsg
// allows (or at a set rate), and receivers that count what arrives. Nothing
// is retransmitted, so the slowest receiver's goodput is the ceiling any
// reliable protocol can reach on the same path.
//
//	blaster send -iface e0 -size 1472 -seconds 5 [-rate 800m] [-gso]
//	blaster recv -iface e0 -idle 2 -json out.json [-gro]
//
// Without -gso/-gro it is the per-packet reference (one datagram per message of
// a sendmmsg/recvmmsg batch). With them it is the offload ceiling: each message
// is a UDP GSO buffer of up to 64 datagrams that the kernel (or the veth, as a
// NIC would) cuts on the way out, and a UDP GRO socket reads merged datagrams
// and splits them by segment size (package internal/udpoff).
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/discuscast/discus/internal/udpoff"
)

const batch = 64

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: blaster send|recv [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "send":
		err = send(os.Args[2:])
	case "recv":
		err = recv(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "blaster:", err)
		os.Exit(1)
	}
}

// parseRate reads bits/s with k/m/g suffixes; "" or "0" means unlimited.
func parseRate(s string) (float64, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1e6, strings.TrimSuffix(s, "m")
	case strings.HasSuffix(s, "g"):
		mult, s = 1e9, strings.TrimSuffix(s, "g")
	}
	v, err := strconv.ParseFloat(s, 64)
	return v * mult, err
}

func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	iface := fs.String("iface", "e0", "interface")
	group := fs.String("group", "239.255.77.1:9700", "multicast group:port")
	size := fs.Int("size", 1472, "UDP payload bytes")
	seconds := fs.Float64("seconds", 5, "how long to send")
	rateS := fs.String("rate", "", "bits/s of payload (0: as fast as possible)")
	jsonOut := fs.String("json", "", "write results here")
	gso := fs.Bool("gso", false, "send UDP GSO buffers of up to 64 datagrams per message")
	fs.Parse(args)
	rate, err := parseRate(*rateS)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(*iface)
	if err != nil {
		return err
	}
	dst, err := net.ResolveUDPAddr("udp4", *group)
	if err != nil {
		return err
	}
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return err
	}
	defer c.Close()
	p := ipv4.NewPacketConn(c)
	if err := p.SetMulticastInterface(ifi); err != nil {
		return err
	}
	p.SetMulticastTTL(1)
	p.SetMulticastLoopback(false)
	if uc, ok := c.(*net.UDPConn); ok {
		uc.SetWriteBuffer(4 << 20)
	}
	per := 1 // datagrams per message
	if *gso {
		per = min(udpoff.MaxSegments, udpoff.MaxBuffer / *size)
	}
	bufs := make([][]byte, batch)
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		bufs[i] = make([]byte, *size*per)
		ms[i].Buffers = [][]byte{bufs[i]}
		ms[i].Addr = dst
		if per > 1 {
			ms[i].OOB = udpoff.SegmentOOB(*size)
		}
	}
	var seq, sent uint64
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	for {
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if rate > 0 {
			// Pace by comparing bytes sent with what the rate allows so far.
			allowed := rate / 8 * now.Sub(start).Seconds()
			if float64(sent) > allowed {
				time.Sleep(200 * time.Microsecond)
				continue
			}
		}
		for i := range ms {
			for j := range per {
				binary.BigEndian.PutUint64(bufs[i][j**size:], seq+uint64(i*per+j))
			}
		}
		n, err := p.WriteBatch(ms, 0)
		if err != nil {
			if per > 1 && udpoff.Refused(err) {
				return fmt.Errorf("the path refuses UDP GSO: %w", err)
			}
			// ENOBUFS: the qdisc is full; back off briefly, like any sender.
			time.Sleep(50 * time.Microsecond)
			continue
		}
		seq += uint64(n * per)
		sent += uint64(n * per * *size)
	}
	el := time.Since(start).Seconds()
	res := map[string]any{"mode": "send", "packets": seq, "bytes": sent, "seconds": el,
		"MBps": float64(sent) / el / 1e6, "size": *size, "gso": *gso}
	return report(res, *jsonOut)
}

func recv(args []string) error {
	fs := flag.NewFlagSet("recv", flag.ExitOnError)
	iface := fs.String("iface", "e0", "interface")
	group := fs.String("group", "239.255.77.1:9700", "multicast group:port")
	idle := fs.Float64("idle", 2, "stop after this many idle seconds once data arrived")
	wait := fs.Float64("wait", 30, "give up when nothing arrives within this many seconds")
	jsonOut := fs.String("json", "", "write results here")
	gro := fs.Bool("gro", false, "read with UDP GRO (merged datagrams, split by segment size)")
	fs.Parse(args)
	ifi, err := net.InterfaceByName(*iface)
	if err != nil {
		return err
	}
	g, err := net.ResolveUDPAddr("udp4", *group)
	if err != nil {
		return err
	}
	c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", g.Port))
	if err != nil {
		return err
	}
	defer c.Close()
	if uc, ok := c.(*net.UDPConn); ok {
		uc.SetReadBuffer(8 << 20)
		if *gro {
			rc, err := uc.SyscallConn()
			if err != nil {
				return err
			}
			if err := udpoff.EnableGRO(rc); err != nil {
				return fmt.Errorf("UDP_GRO: %w", err)
			}
		}
	}
	p := ipv4.NewPacketConn(c)
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: g.IP}); err != nil {
		return err
	}
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 65536)}
		ms[i].OOB = make([]byte, udpoff.GROOOBSpace)
	}
	var pkts, bytes, maxSeq, reads uint64
	var first, last time.Time
	p.SetReadDeadline(time.Now().Add(time.Duration(*wait * float64(time.Second))))
	for {
		n, err := p.ReadBatch(ms, 0)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			return err
		}
		now := time.Now()
		if pkts == 0 {
			first = now
		}
		last = now
		for i := 0; i < n; i++ {
			reads++
			udpoff.Split(ms[i].Buffers[0][:ms[i].N], udpoff.GROSize(ms[i].OOB[:ms[i].NN]), func(d []byte) {
				pkts++
				bytes += uint64(len(d))
				if len(d) >= 8 {
					if s := binary.BigEndian.Uint64(d); s > maxSeq {
						maxSeq = s
					}
				}
			})
		}
		p.SetReadDeadline(now.Add(time.Duration(*idle * float64(time.Second))))
	}
	el := last.Sub(first).Seconds()
	res := map[string]any{"mode": "recv", "packets": pkts, "bytes": bytes, "seconds": el,
		"MBps": 0.0, "loss": 0.0, "reads": reads, "gro": *gro}
	if el > 0 {
		res["MBps"] = float64(bytes) / el / 1e6
	}
	if maxSeq > 0 {
		res["loss"] = 1 - float64(pkts)/float64(maxSeq+1)
	}
	return report(res, *jsonOut)
}

func report(res map[string]any, path string) error {
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if path != "" {
		return os.WriteFile(path, append(b, '\n'), 0o644)
	}
	return nil
}
