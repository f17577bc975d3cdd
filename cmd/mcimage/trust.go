package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/discuscast/discus/image"
)

// trustFlags are the --trust and --decrypt flags of verify and extract.
type trustFlags struct {
	trust   *string
	decrypt *string
	keys    *image.TrustedKeys
	key     *image.Key
}

func addTrustFlags(fs *flag.FlagSet) *trustFlags {
	return &trustFlags{
		trust:   fs.String("trust", "", "accept only images signed by a key in this authorized_keys-style `FILE` (ssh-ed25519 lines)"),
		decrypt: fs.String("decrypt", "", "key `FILE` of an encrypted image (the file given to create --encrypt)"),
	}
}

// load reads the key files named by the flags.
func (t *trustFlags) load() error {
	var err error
	if *t.trust != "" {
		if t.keys, err = image.LoadTrustedKeys(*t.trust); err != nil {
			return err
		}
	}
	if *t.decrypt != "" {
		if t.key, err = image.LoadKey(*t.decrypt); err != nil {
			return err
		}
	}
	return nil
}

// checkFile applies the flags to an opened image file before anything
// else is done with it: the signer must be trusted, every chunk must match
// the manifest, and the key (if the image is encrypted and one was given)
// must be the image's. It reads the whole image once when --trust is set,
// so a tampered chunk is refused before the first byte is written.
func (t *trustFlags) checkFile(ctx context.Context, r *image.Reader) error {
	h := r.Header()
	if t.key != nil || !h.Encrypted {
		if err := h.CheckKey(t.key); err != nil {
			return err
		}
	}
	if t.keys == nil {
		return nil
	}
	if err := t.keys.Check(h, r.Signature()); err != nil {
		return err
	}
	return r.VerifyManifest(ctx)
}

// signedBy describes an image's signature for people.
func signedBy(sig *image.Signature) string {
	if sig == nil {
		return "unsigned"
	}
	return "signed by " + sig.Fingerprint()
}

func cmdSign(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	// In place unless OUT is given; KEY: an OpenSSH ed25519 private key.
	if _, err := parseFlagsRange(fs, args, 2, 3, "KEY IMAGE [OUT]"); err != nil {
		return err
	}
	key, err := image.LoadSigningKey(fs.Arg(0))
	if err != nil {
		return err
	}
	if fs.Arg(1) == "-" || fs.Arg(2) == "-" {
		return fmt.Errorf("%w: sign needs image files, not pipes", errUsage)
	}
	sig, err := image.SignFile(fs.Arg(1), fs.Arg(2), key)
	if err != nil {
		return err
	}
	out := fs.Arg(2)
	if out == "" {
		out = fs.Arg(1)
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", out, signedBy(sig))
	return nil
}
