package fsmap

import (
	"bytes"
	"os"
	"testing"
)

func TestSwap(t *testing.T) {
	img := newRandomFile(t, 16<<20)
	run(t, "mkswap", "-L", "discus", img)
	m := scanFile(t, img)
	p := m.Partitions[0]
	if p.FS != "swap" || m.UsedBytes() < 4096 || m.UsedBytes() > 65536 {
		t.Fatalf("swap: %+v used %d", p, m.UsedBytes())
	}
	scrub := scrubbed(t, img, m.Used)
	if out, err := runStatus(t, "swaplabel", scrub); err != nil || !bytes.Contains([]byte(out), []byte("discus")) {
		t.Fatalf("swaplabel on scrubbed copy: %v\n%s", err, out)
	}
	a, _ := os.ReadFile(img)
	b, _ := os.ReadFile(scrub)
	if !bytes.Equal(a[:m.UsedBytes()], b[:m.UsedBytes()]) {
		t.Fatal("header page changed")
	}
}

func TestSwapHibernationKeptWhole(t *testing.T) {
	img := newRandomFile(t, 1<<20)
	run(t, "mkswap", img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("S1SUSPEND\x00"), 4086)
	f.Close()
	m := scanFile(t, img)
	if m.UsedBytes() != m.Size {
		t.Fatalf("hibernation image not kept whole: %+v", m.Partitions)
	}
}
