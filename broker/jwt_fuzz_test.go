package broker

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// FuzzJWTConnect: whatever a client sends as its user JWT and signature
// (truncated, another algorithm, huge claims, garbage), the operator-mode
// check never panics, and passes only a JWT its account signed together
// with the user's signature of this connection's nonce.
func FuzzJWTConnect(f *testing.F) {
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(op)
	if err != nil {
		f.Fatal(err)
	}
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	accJWT, err := jwt.NewAccountClaims(accPub).Encode(op)
	if err != nil {
		f.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	good, err := uc.Encode(acc)
	if err != nil {
		f.Fatal(err)
	}
	uc.Name = strings.Repeat("x", 64<<10)
	huge, _ := uc.Encode(acc)
	st := compileAuth(&AuthOptions{Operator: &OperatorOptions{
		Operators: []string{opJWT},
		Resolver:  NewMemoryResolver(map[string]string{accPub: accJWT}),
	}})
	nonce := newNonce()
	sig, _ := user.Sign(nonce)
	enc := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(good, ".")
	hs := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	f.Add(good, enc(sig))
	f.Add(good[:len(good)/2], enc(sig))           // truncated
	f.Add(hs+"."+parts[1]+"."+parts[2], enc(sig)) // another algorithm
	f.Add(huge, enc(sig))                         // huge claims
	f.Add(good, enc(sig[:10]))                    // short signature
	f.Add(parts[0]+"."+parts[1]+".", enc(sig))    // no signature
	f.Add(accJWT, enc(sig))                       // an account JWT as a user's
	f.Add("", "")
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4222}
	f.Fuzz(func(t *testing.T, token, s string) {
		u, err := st.check(&connectOpts{JWT: token, Sig: s}, nonce, remote)
		if err != nil {
			return
		}
		got, derr := jwt.DecodeUserClaims(token)
		if derr != nil || got.Issuer != accPub || u.account != accPub || got.Expires != 0 && got.Expires < time.Now().Unix() {
			t.Fatalf("accepted %q: %v", token, derr)
		}
		if !got.BearerToken && !verifyNonce(got.Subject, s, nonce) {
			t.Fatalf("accepted a bad nonce signature for %q", token)
		}
	})
}

// TestExpandTemplate: template calls match in any case and spacing, a
// tag with several values gives one subject each, a missing tag or an
// expansion past maxTemplateSubjects refuses the login.
func TestExpandTemplate(t *testing.T) {
	uc := jwt.NewUserClaims("UAAA")
	uc.Name = "carol"
	uc.Tags.Add("team:red", "team:blue")
	for i := range 40 {
		uc.Tags.Add(fmt.Sprintf("n:%d", i))
	}
	ac := jwt.NewAccountClaims("AAAA")
	ac.Name = "orders"
	got, err := expandSubject("{{ Name() }}.{{account-name()}}.{{tag(team)}}", uc, ac)
	if err != nil || strings.Join(got, ",") != "carol.orders.red,carol.orders.blue" {
		t.Fatalf("expand: %v %v", got, err)
	}
	if _, err := expandSubject("x.{{tag(missing)}}", uc, ac); err == nil {
		t.Fatal("a missing tag expanded")
	}
	if _, err := expandSubject("{{tag(n)}}.{{tag(n)}}", uc, ac); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("40×40 subjects: %v", err)
	}
	if _, err := expandSubject("{{bogus()}}", uc, ac); err == nil {
		t.Fatal("an unknown function expanded")
	}
}
