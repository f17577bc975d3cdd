package session_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discuscast/discus/image"
	"github.com/discuscast/discus/image/fsmap"
	"github.com/discuscast/discus/internal/testnet"
	"github.com/discuscast/discus/mcast"
	"github.com/discuscast/discus/mcast/transport"
	"github.com/discuscast/discus/session"
)

// upgradedExt4 makes an ext4 filesystem of real files (base) and the same
// filesystem upgraded in place with debugfs, as a package manager would change it
// (every 20th file rewritten with changes, every 50th removed, new files added), the
// filesystem's allocator placing the new data. No mount: in one CI run the upgrade
// made through a loop mount never reached the file (one changed block instead of
// 4 MB; other packages attach and detach loop devices at the same time), and
// debugfs writes the file itself. It needs mkfs.ext4 and debugfs.
func upgradedExt4(t *testing.T, dir string) (base, upgraded string) {
	t.Helper()
	for _, tool := range []string{"mkfs.ext4", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (e2fsprogs)", tool)
		}
	}
	tree := filepath.Join(dir, "tree")
	var copied int64
	var files []string // relative paths, in walk order
	root := "/usr/local/go/src"
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || copied > 24<<20 {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				rel := strings.TrimPrefix(p, root)
				dst := filepath.Join(tree, rel)
				os.MkdirAll(filepath.Dir(dst), 0o755)
				os.WriteFile(dst, b, 0o644)
				copied += int64(len(b))
				files = append(files, rel)
			}
		}
		return nil
	})
	base = filepath.Join(dir, "base.ext4")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, base, "96M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	upgraded = filepath.Join(dir, "new.ext4")
	if out, err := exec.Command("cp", "--sparse=always", base, upgraded).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	stage := filepath.Join(dir, "stage")
	os.MkdirAll(stage, 0o755)
	var cmds strings.Builder
	for n, rel := range files {
		switch k := n + 1; {
		case k%50 == 0:
			fmt.Fprintf(&cmds, "rm %s\n", rel)
		case k%20 == 0:
			b, _ := os.ReadFile(filepath.Join(tree, rel))
			for i := 0; i < len(b); i += 4096 {
				b[i] ^= 0x5a
			}
			b = append(b, b[:len(b)/10]...)
			src := filepath.Join(stage, fmt.Sprint(k))
			os.WriteFile(src, b, 0o644)
			fmt.Fprintf(&cmds, "rm %s\ncd %s\nwrite %s %s\ncd /\n", rel, filepath.Dir(rel), src, filepath.Base(rel))
		}
	}
	cmds.WriteString("mkdir added\ncd added\n")
	for i := range 8 {
		src := filepath.Join(stage, fmt.Sprint("f", i))
		os.WriteFile(src, diskBytes(300<<10, uint64(50+i)), 0o644)
		fmt.Fprintf(&cmds, "write %s f%d\n", src, i)
	}
	cf := filepath.Join(dir, "upgrade.cmds")
	os.WriteFile(cf, []byte(cmds.String()), 0o644)
	if out, err := exec.Command("debugfs", "-w", "-f", cf, upgraded).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	if out, err := exec.Command("e2fsck", "-fn", upgraded).CombinedOutput(); err != nil {
		t.Fatalf("the upgraded filesystem does not check: %v\n%s", err, out)
	}
	return base, upgraded
}

// TestUpgradeSession sends an upgraded release (a full image of it) to targets that
// hold the base release, one empty target and one drifted target (the base with
// random damage), in one session over real multicast. Targets holding the base find
// that by hashing and fetch only chunks with changed blocks, writing only the blocks
// that changed; every target ends byte-identical to the new release on its used
// ranges and e2fsck-clean.
func TestUpgradeSession(t *testing.T) {
	dir := t.TempDir()
	baseFS, newFS := upgradedExt4(t, dir)
	src, err := image.OpenSource(newFS)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(newFS)
	fm, err := fsmap.Scan(f, src.Size(), nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	imgPath := filepath.Join(dir, "new.dsc")
	out, _ := os.Create(imgPath)
	if _, _, err := image.Create(context.Background(), src, out, image.CreateConfig{ChunkSize: 256 << 10, Used: fm.Used}); err != nil {
		t.Fatal(err)
	}
	out.Close()
	src.Close()
	img, err := image.OpenFile(imgPath)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	bm := img.BlockMap()
	newBytes, _ := os.ReadFile(newFS)
	baseBytes, _ := os.ReadFile(baseFS)

	// The targets: three holding the base, one empty, one drifted.
	names := []string{"base1", "base2", "base3", "empty", "drifted"}
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(dir, name)
		b := baseBytes
		switch name {
		case "empty":
			b = nil
		case "drifted":
			b = bytes.Clone(baseBytes)
			rng := rand.New(rand.NewPCG(9, 9))
			for k := 0; k < len(b)/(16<<10)/10; k++ {
				off := rng.IntN(len(b) - 4096)
				for j := range 4096 {
					b[off+j] = byte(rng.Uint32())
				}
			}
		}
		if err := os.WriteFile(paths[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// What a base holder lacks: the new image's used bytes in blocks the base does not hold.
	match, _, _ := image.HashTarget(context.Background(), bytes.NewReader(baseBytes), bm, 0)
	lackEnc, lackUsed := lacking(t, img, baseBytes)
	held := 0
	for _, ok := range match {
		if ok {
			held++
		}
	}

	srcS, err := session.NewImageSource(img)
	if err != nil {
		t.Fatal(err)
	}
	sres, res, errs, err := sendToFiles(t, srcS, img.Header().ID, paths, 19130, image.GapDiscard)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	t.Logf("new release: %d used bytes, image %d bytes; a base holder holds %d/%d blocks and lacks %d used bytes (~%d encoded)",
		bm.UsedBytes(), img.Header().StoredBytes, held, bm.Len(), lackUsed, lackEnc)
	t.Logf("wire: %d bytes sent (%d data blocks) for the whole session", sres.Stats.Bytes, sres.Stats.DataBlocks)
	for i, name := range names {
		if errs[i] != nil {
			t.Fatalf("%s: %v", name, errs[i])
		}
		got, _ := os.ReadFile(paths[i])
		for _, e := range bm.Extents() {
			if e.End() > int64(len(got)) || !bytes.Equal(got[e.Off:e.End()], newBytes[e.Off:e.End()]) {
				t.Fatalf("%s differs from the new release in [%d,+%d)", name, e.Off, e.Len)
			}
		}
		if out, err := exec.Command("e2fsck", "-fn", paths[i]).CombinedOutput(); err != nil {
			t.Errorf("%s: e2fsck: %v\n%s", name, err, out)
		}
		r := res[i]
		t.Logf("%-8s held %3d chunks (%d/%d blocks), received %9d chunk bytes, wrote %9d bytes, skipped %9d",
			name, r.Resume.HeldChunks, r.Resume.Hash.Matched, r.Resume.Hash.Blocks, r.Stats.Bytes, r.Install.WriteBytes, r.Install.SkipBytes)
		if strings.HasPrefix(name, "base") && float64(r.Install.WriteBytes) > 1.1*float64(lackUsed)+float64(bm.BlockSize()) {
			t.Errorf("%s wrote %d bytes for %d changed", name, r.Install.WriteBytes, lackUsed)
		}
	}
}

// sendToFiles serves src (session id) over real multicast, in a fresh testnet, to one
// receiver per file of paths (each on its own host, the file as its target, gaps
// treated as given) and returns the sender's result, the receivers' and their errors.
func sendToFiles(t *testing.T, src mcast.ChunkSource, id image.ID, paths []string, port int, gaps image.GapMode) (session.SendResult, []session.ReceiveResult, []error, error) {
	t.Helper()
	nw := testnet.New(t, len(paths)+1, testnet.Options{})
	udp := transport.UDPConfig{Interface: "e0", Group: netip.MustParseAddr("239.255.0.9"), Port: port}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	res := make([]session.ReceiveResult, len(paths))
	errs := make([]error, len(paths))
	for i := range paths {
		tr := openUDP(t, nw.Hosts[i+1], transport.RoleReceiver, udp)
		wg.Go(func() {
			f, err := os.OpenFile(paths[i], os.O_RDWR, 0)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			res[i], errs[i] = session.ReceiveImage(ctx, f, session.ReceiveConfig{Transport: tr,
				Install: image.InstallConfig{Grow: true, Gaps: gaps}, StartTimeout: 20 * time.Second})
		})
	}
	sres, err := session.Send(ctx, src, session.SendConfig{
		Transport:    openUDP(t, nw.Hosts[0], transport.RoleSender, udp),
		Sender:       mcast.SenderConfig{SessionID: id},
		MinReceivers: len(paths), StartTimeout: 20 * time.Second})
	wg.Wait()
	return sres, res, errs, err
}
