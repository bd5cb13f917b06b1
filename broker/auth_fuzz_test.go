package broker

import (
	"encoding/base64"
	"net"
	"testing"

	"github.com/nats-io/nkeys"
)

// FuzzNkeyConnect: whatever a client sends as nkey and sig, the check
// never panics and passes only the configured key's signature of this
// connection's nonce.
func FuzzNkeyConnect(f *testing.F) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	st := compileAuth(&AuthOptions{Users: []User{{Nkey: pub}}})
	nonce := newNonce()
	good, _ := kp.Sign(nonce)
	other, _ := kp.Sign([]byte("another nonce"))
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(pub, enc(good))
	f.Add(pub, base64.StdEncoding.EncodeToString(good))
	f.Add(pub, enc(other))       // signature of another nonce
	f.Add(pub, enc(good[:10]))   // wrong length
	f.Add(pub, "!!not base64!!") // bad encoding
	f.Add(pub[:20], enc(good))   // truncated key
	f.Add("UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", enc(good))
	f.Add("", "")
	f.Fuzz(func(t *testing.T, key, sig string) {
		if _, err := st.check(&connectOpts{Nkey: key, Sig: sig}, nonce, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(sig)
		if err != nil {
			raw, err = base64.StdEncoding.DecodeString(sig)
		}
		if key != pub || err != nil || kp.Verify(nonce, raw) != nil {
			t.Fatalf("accepted nkey %q sig %q", key, sig)
		}
	})
}
