package wire

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

// goldenKeyedAck is the welcome ack of goldenHeader for node 9, sealed with the secret
// 0x00 0x01 … 0x1f by a sender whose run (epoch) is its node ID, as its third packet
// (counter 3): §1.1 with flag 0x80, §1.6, then §1.8's keyed trailer.
const goldenKeyedAck = "44534353" + "05" + "05" + "81" + "00" + "00112233445566778899aabbccddeeff" + "0102030405060708" + // header, flags 0x81 (welcome, keyed)
	"0001" + "0000000000000009" + // ack: one node, 9
	"0102030405060708" + // trailer: epoch = the sender's node ID
	"0000000000000003" + // counter
	"231c13fad519ea21c3279b59c6ae4b04" // AES-256-GCM tag

// TestGoldenKeyedTrailer pins §1.8's keyed trailer to exact bytes (fixed secret,
// session, epoch and counter), and derives the same tag from the document's words with
// the standard library alone: HKDF-SHA256(secret, "discus/3 packet", session ‖ epoch ‖
// counter>>32) as the AES-256-GCM key, nonce node ‖ uint32(counter), empty plaintext,
// everything before the tag as additional data.
func TestGoldenKeyedTrailer(t *testing.T) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	node := goldenHeader.Node
	f, err := NewFramer(secret, node, true, func() uint64 { return node }, func(DropReason) {})
	if err != nil {
		t.Fatal(err)
	}
	p := AppendAck(nil, goldenHeader, &Ack{Welcome: true, Nodes: []uint64{9}})
	var sealed []byte
	for range 3 { // counters 1, 2, 3
		sealed = f.Seal(append([]byte(nil), p...), time.Unix(0, 0))
	}
	if got := hex.EncodeToString(sealed); got != goldenKeyedAck {
		t.Fatalf("sealed as\n%s, want\n%s", got, goldenKeyedAck)
	}

	// The same from the document.
	want, _ := hex.DecodeString(goldenKeyedAck)
	ad := want[:len(want)-authTagLen]
	var info []byte
	info = append(info, goldenHeader.Session[:]...)
	info = binary.BigEndian.AppendUint64(info, node) // epoch
	info = binary.BigEndian.AppendUint32(info, 0)    // counter >> 32
	k, err := hkdf.Key(sha256.New, secret, []byte("discus/3 packet"), string(info), 32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	nonce := binary.BigEndian.AppendUint64(nil, node)
	nonce = binary.BigEndian.AppendUint32(nonce, 3)
	if tag := g.Seal(nil, nonce, nil, ad); !bytes.Equal(tag, want[len(want)-authTagLen:]) {
		t.Fatalf("the document's recipe gives tag %x", tag)
	}

	// A receiver following that run opens it, once.
	r, err := NewFramer(secret, 42, false, func() uint64 { return node }, func(DropReason) {})
	if err != nil {
		t.Fatal(err)
	}
	plain, ok := r.Open(append([]byte(nil), want...), time.Unix(0, 0))
	if !ok || len(plain) != len(p) || plain[6] != p[6]|flagAuth || !bytes.Equal(plain[7:], p[7:]) {
		t.Fatalf("golden packet does not open: ok %v, %x", ok, plain)
	}
	if _, ok := r.Open(append([]byte(nil), want...), time.Unix(0, 0)); ok {
		t.Fatal("the same packet opened twice (replay window)")
	}
}
