package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discuscast/discus/image"
)

// keygen makes an OpenSSH key pair with ssh-keygen (as a lab admin would)
// and returns the private key's path; the public key is path + ".pub".
func keygen(t *testing.T, dir, name, typ, pass string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not installed (Debian: apt-get install openssh-client): the trust tests need real OpenSSH keys")
	}
	path := filepath.Join(dir, name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", pass, "-C", name, "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return path
}

// capture runs mcimage with args and returns its exit code and stdout.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	rp, wp, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = wp
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(rp); done <- b }()
	code := run(args)
	os.Stdout = old
	wp.Close()
	return code, string(<-done)
}

func writeRandom(t *testing.T, path string, n int, seed uint64) []byte {
	t.Helper()
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out := capture(t, args...)
	if code != want {
		t.Fatalf("mcimage %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

func TestSignAndTrust(t *testing.T) {
	dir := t.TempDir()
	keyA := keygen(t, dir, "a", "ed25519", "")
	keyB := keygen(t, dir, "b", "ed25519", "")
	// Random data: every chunk is stored as it is, so two images of the
	// same size have chunks of the same lengths at the same offsets.
	src := filepath.Join(dir, "src")
	data := writeRandom(t, src, 400<<10, 1)
	src2 := filepath.Join(dir, "src2")
	writeRandom(t, src2, 400<<10, 2)
	img := filepath.Join(dir, "a.dsc")
	other := filepath.Join(dir, "other.dsc")
	unsigned := filepath.Join(dir, "unsigned.dsc")
	mustRun(t, 0, "create", "--raw", "--quiet", "--chunk-size", "64K", "--sign", keyA, src, img)
	mustRun(t, 0, "create", "--raw", "--quiet", "--chunk-size", "64K", "--sign", keyA, src2, other)
	mustRun(t, 0, "create", "--raw", "--quiet", "--chunk-size", "64K", src, unsigned)

	if out := mustRun(t, 0, "verify", "--trust", keyA+".pub", img); !strings.Contains(out, "signed by SHA256:") {
		t.Fatalf("verify output does not name the signer: %q", out)
	}
	mustRun(t, 6, "verify", "--trust", keyB+".pub", img)
	mustRun(t, 6, "verify", "--trust", keyA+".pub", unsigned)
	mustRun(t, 0, "verify", unsigned) // no --trust: unsigned is fine
	info := mustRun(t, 0, "info", img)
	for _, want := range []string{"signed by SHA256:", "encrypted:    no", "manifest:     root "} {
		if !strings.Contains(info, want) {
			t.Fatalf("info lacks %q:\n%s", want, info)
		}
	}

	// Tampered copies: one flipped payload byte; one chunk swapped in from
	// another image signed by the same key.
	r, err := image.OpenFile(img)
	if err != nil {
		t.Fatal(err)
	}
	off, n := r.ChunkOffset(2)
	r.Close()
	orig, _ := os.ReadFile(img)
	flipped := bytes.Clone(orig)
	flipped[off+int64(n)-100] ^= 1
	otherBytes, _ := os.ReadFile(other)
	swapped := bytes.Clone(orig)
	copy(swapped[off:off+int64(n)], otherBytes[off:off+int64(n)])
	for name, b := range map[string][]byte{"flipped": flipped, "swapped": swapped} {
		p := filepath.Join(dir, name+".dsc")
		os.WriteFile(p, b, 0o644)
		mustRun(t, 6, "verify", "--trust", keyA+".pub", p)
		// extract --trust leaves the target exactly as it was.
		target := filepath.Join(dir, name+".target")
		precious := writeRandom(t, target, 10000, 3)
		mustRun(t, 6, "extract", "--trust", keyA+".pub", p, target)
		if got, _ := os.ReadFile(target); !bytes.Equal(got, precious) {
			t.Fatalf("%s: extract --trust changed the target", name)
		}
	}
	for _, c := range [][]string{
		{"extract", "--trust", keyB + ".pub", img},
		{"extract", "--trust", keyA + ".pub", unsigned},
	} {
		target := filepath.Join(dir, "t")
		precious := writeRandom(t, target, 5000, 4)
		mustRun(t, 6, append(c, target)...)
		if got, _ := os.ReadFile(target); !bytes.Equal(got, precious) {
			t.Fatalf("%v: target changed", c)
		}
	}
	out := filepath.Join(dir, "out")
	mustRun(t, 0, "extract", "--trust", keyA+".pub", img, out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("extracted bytes differ")
	}
	// --trust with a stream is refused as usage: it could not refuse in time.
	mustRun(t, 2, "extract", "--trust", keyA+".pub", "-", out)

	// sign: to a new file, then in place; the old signature is replaced.
	resigned := filepath.Join(dir, "resigned.dsc")
	mustRun(t, 0, "sign", keyB, img, resigned)
	mustRun(t, 0, "verify", "--trust", keyB+".pub", resigned)
	mustRun(t, 6, "verify", "--trust", keyA+".pub", resigned)
	mustRun(t, 0, "sign", keyA, unsigned)
	mustRun(t, 0, "verify", "--trust", keyA+".pub", unsigned)
	if m, _ := filepath.Glob(filepath.Join(dir, ".*sign-*")); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	// A trust file may hold several keys, options and comments.
	pubA, _ := os.ReadFile(keyA + ".pub")
	pubB, _ := os.ReadFile(keyB + ".pub")
	multi := filepath.Join(dir, "authorized_keys")
	os.WriteFile(multi, []byte("# lab\n\nfrom=\"10.0.0.0/8\" "+string(pubB)+"\n"+string(pubA)), 0o644)
	mustRun(t, 0, "verify", "--trust", multi, img)
}

func TestSigningKeys(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, src, 100<<10, 5)
	rsa := keygen(t, dir, "rsa", "rsa", "")
	if _, err := image.LoadSigningKey(rsa); err == nil || !strings.Contains(err.Error(), "ed25519") {
		t.Fatalf("rsa key: %v", err)
	}
	mustRun(t, 1, "create", "--raw", "--quiet", "--sign", rsa, src, filepath.Join(dir, "x.dsc"))
	if _, err := os.Stat(filepath.Join(dir, "x.dsc")); err == nil {
		t.Fatal("image written despite an unusable key")
	}
	// An authorized_keys file without ed25519 keys is refused, not empty.
	if _, err := image.LoadTrustedKeys(rsa + ".pub"); err == nil {
		t.Fatal("rsa-only trust file accepted")
	}
	prot := keygen(t, dir, "prot", "ed25519", "sesame")
	t.Setenv(image.PassphraseEnv, "")
	os.Unsetenv(image.PassphraseEnv)
	if _, err := image.LoadSigningKey(prot); err == nil || !strings.Contains(err.Error(), image.PassphraseEnv) {
		t.Fatalf("protected key without passphrase: %v", err)
	}
	t.Setenv(image.PassphraseEnv, "wrong")
	if _, err := image.LoadSigningKey(prot); err == nil {
		t.Fatal("wrong passphrase accepted")
	}
	t.Setenv(image.PassphraseEnv, "sesame")
	img := filepath.Join(dir, "p.dsc")
	mustRun(t, 0, "create", "--raw", "--quiet", "--sign", prot, src, img)
	mustRun(t, 0, "verify", "--trust", prot+".pub", img)
}

func TestEncryptedCommands(t *testing.T) {
	dir := t.TempDir()
	keyA := keygen(t, dir, "a", "ed25519", "")
	src := filepath.Join(dir, "src")
	data := writeRandom(t, src, 300<<10, 6)
	data = append(data[:100<<10], make([]byte, 200<<10)...) // some zero blocks too
	os.WriteFile(src, data, 0o644)
	k := filepath.Join(dir, "img.key")
	writeRandom(t, k, 32, 7)
	k2 := filepath.Join(dir, "other.key")
	writeRandom(t, k2, 32, 8)
	short := filepath.Join(dir, "short.key")
	writeRandom(t, short, 16, 9)
	img := filepath.Join(dir, "e.dsc")
	mustRun(t, 1, "create", "--raw", "--quiet", "--encrypt", short, src, img)
	mustRun(t, 0, "create", "--raw", "--quiet", "--chunk-size", "64K", "--encrypt", k, "--sign", keyA, src, img)
	if b, _ := os.ReadFile(img); bytes.Contains(b, data[50<<10:54<<10]) {
		t.Fatal("plaintext in the encrypted image")
	}
	if out := mustRun(t, 0, "verify", "--trust", keyA+".pub", img); !strings.Contains(out, "not decrypted") {
		t.Fatalf("verify without a key does not say what it skipped: %q", out)
	}
	mustRun(t, 0, "verify", "--decrypt", k, img)
	mustRun(t, 6, "verify", "--decrypt", k2, img)
	info := mustRun(t, 0, "info", img)
	if !strings.Contains(info, "encrypted:    yes") || !strings.Contains(info, "key ID") {
		t.Fatalf("info:\n%s", info)
	}
	target := filepath.Join(dir, "target")
	for _, args := range [][]string{
		{"extract", img, target},
		{"extract", "--decrypt", k2, img, target},
	} {
		precious := writeRandom(t, target, 4000, 10)
		mustRun(t, 6, args...)
		if got, _ := os.ReadFile(target); !bytes.Equal(got, precious) {
			t.Fatalf("%v changed the target", args)
		}
	}
	out := filepath.Join(dir, "out")
	mustRun(t, 0, "extract", "--gaps", "zero", "--trust", keyA+".pub", "--decrypt", k, img, out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("decrypted extract differs")
	}
}
