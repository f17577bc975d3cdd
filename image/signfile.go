package image

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteSigned writes the image of r to w with the signature sig (nil:
// unsigned) in its index: prologue and chunks as they are, a new index and
// trailer. Chunks are not re-read for checks: sig covers the header, which
// pins the manifest Open checked against it.
func (r *Reader) WriteSigned(w io.Writer, sig *Signature) error {
	if sig != nil {
		if err := sig.Verify(r.h); err != nil {
			return err
		}
	}
	end := r.offs[len(r.offs)-1] // the old index starts where the chunks end
	if _, err := io.Copy(w, io.NewSectionReader(r.r, 0, end)); err != nil {
		return err
	}
	offsets := make([]uint64, r.NumChunks())
	for i := range offsets {
		offsets[i] = uint64(r.offs[i])
	}
	idx, err := appendIndex(nil, offsets, r.m, r.h, sig)
	if err != nil {
		return err
	}
	_, err = w.Write(appendTrailer(idx, end))
	return err
}

// SignFile signs the image file at path with key and writes it to out
// (out == "" or out == path: in place). The new file is written beside
// the destination under a temporary name, synced and renamed over it, so
// an interrupted signing leaves the old file as it was.
func SignFile(path, out string, key ed25519.PrivateKey) (*Signature, error) {
	if out == "" {
		out = path
	}
	r, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sig, err := Sign(r.h, key)
	if err != nil {
		return nil, err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if st, err := os.Stat(out); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("image: %s: not a regular file", out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".sign-*")
	if err != nil {
		return nil, err
	}
	err = r.WriteSigned(tmp, sig)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, errors.Join(fmt.Errorf("image: signing %s", path), err)
	}
	return sig, nil
}
