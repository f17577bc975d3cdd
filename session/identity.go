package session

import (
	"crypto/sha256"
	"encoding/binary"
	"net"
	"os"
	"slices"
	"syscall"
)

// stableNodeID derives a keyless receiver's node ID from what stays the same when
// the same receiver is started again on the same target — this host's network
// addresses and name, and the target file's device and inode — so that the sender
// sees a restarted receiver (killed, power cut) as the same receiver coming back,
// not as one lost and another new (ReceiveConfig.Receiver.NodeID zero and no Key;
// docs/SECURITY.md). Two receivers differ in their host addresses or their target.
// It returns 0 (a random ID then) when the target is not a file it can identify.
//
// A keyed receiver keeps a fresh random ID every run: its welcome rests on that.
func stableNodeID(target any) uint64 {
	f, ok := target.(*os.File)
	if !ok {
		return 0
	}
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	h := sha256.New()
	h.Write([]byte("discus receiver node\x00"))
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], sys.Dev)
	binary.LittleEndian.PutUint64(b[8:], sys.Ino)
	binary.LittleEndian.PutUint64(b[16:], sys.Rdev)
	h.Write(b[:])
	name, _ := os.Hostname()
	h.Write([]byte(name + "\x00"))
	if addrs, err := net.InterfaceAddrs(); err == nil {
		var ss []string
		for _, a := range addrs {
			ss = append(ss, a.String())
		}
		slices.Sort(ss)
		for _, s := range ss {
			h.Write([]byte(s + "\x00"))
		}
	}
	id := binary.LittleEndian.Uint64(h.Sum(nil))
	if id == 0 {
		id = 1
	}
	return id
}
