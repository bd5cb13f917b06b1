package broker

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// authState is AuthOptions compiled for lookups; a reload swaps in a new one.
type authState struct {
	token  string
	users  map[string]*userEntry // by user name
	nkeys  map[string]*userEntry // by public nkey
	noAuth *userEntry            // no_auth_user (nil: none)
	// sys is the system user shorthand (AuthOptions.System), nil if none.
	sys *userEntry
	// anonymous: a client with no credentials lands in $G (the system
	// user is the only credential configured).
	anonymous bool
	// accounts names every account the users belong to.
	accounts []string
	// op is operator mode (nil: off): users are JWTs, not entries here.
	op *operatorAuth
	// callout, when set, decides every login but its auth users'.
	callout *AuthCallout
	timeout time.Duration // the auth timeout, which bounds a callout
}

type userEntry struct {
	name     string // the user name, or the public nkey
	password string
	hashed   bool // bcrypt
	nkey     bool // proven by a nonce signature, not a password
	perms    *permissions
	account  string
	jwt      *jwtGrant // operator mode or callout: what the user JWT grants (nil otherwise)
	callout  bool      // granted by the auth callout
	// issued is the user JWT an operator-mode callout returned, re-checked
	// against its account's JWT when that changes.
	issued *jwt.UserClaims
}

func compileAuth(a *AuthOptions) *authState {
	if !a.Required() {
		return nil
	}
	st := &authState{token: a.Token, users: map[string]*userEntry{}, nkeys: map[string]*userEntry{},
		accounts: []string{GlobalAccount, a.systemAccount()}, anonymous: a.anonymous(),
		callout: a.Callout, timeout: a.Timeout}
	if st.timeout <= 0 {
		st.timeout = DefaultAuthTimeout
	}
	if a.Operator != nil {
		ops, _ := decodeOperators(a.Operator.Operators) // validated
		st.op = &operatorAuth{ops: ops, resolver: a.Operator.Resolver}
		return st
	}
	for _, u := range a.Users {
		st.add(u, GlobalAccount)
	}
	for _, acc := range a.Accounts {
		st.accounts = append(st.accounts, acc.Name)
		for _, u := range acc.Users {
			st.add(u, acc.Name)
		}
	}
	if a.System != nil {
		st.add(User{Name: a.System.Name, Password: a.System.Password}, a.systemAccount())
		st.sys = st.users[a.System.Name]
	}
	if a.NoAuthUser != "" {
		st.noAuth = st.users[a.NoAuthUser]
		if st.noAuth == nil {
			st.noAuth = st.nkeys[a.NoAuthUser]
		}
	}
	return st
}

func (st *authState) add(u User, account string) {
	e := &userEntry{
		name:     u.Name,
		password: u.Password,
		hashed:   strings.HasPrefix(u.Password, "$2"),
		perms:    compilePerms(u.Permissions),
		account:  account,
	}
	if u.Nkey != "" {
		e.name, e.nkey = u.Nkey, true
		st.nkeys[u.Nkey] = e
		return
	}
	st.users[u.Name] = e
}

// check verifies CONNECT credentials against nonce (the one sent in this
// client's INFO), from remote. It returns the user (nil for token auth),
// or why the credentials are refused. A client that sends no credentials
// at all is the no_auth_user, when there is one.
func (st *authState) check(o *connectOpts, nonce []byte, remote net.Addr) (*userEntry, error) {
	if st.op != nil {
		return st.op.check(o, nonce, remote, time.Now())
	}
	u, ok := st.checkLocal(o, nonce)
	if !ok {
		who := "user " + strconv.Quote(o.User)
		if o.Nkey != "" {
			who = "nkey " + strconv.Quote(o.Nkey)
		}
		return nil, errors.New("bad credentials for " + who)
	}
	return u, nil
}

// checkLocal checks credentials against the configured users and token.
func (st *authState) checkLocal(o *connectOpts, nonce []byte) (*userEntry, bool) {
	noCreds := o.User == "" && o.Pass == "" && o.AuthToken == "" && o.JWT == "" && o.Nkey == ""
	if st.anonymous && noCreds {
		return nil, true
	}
	if o.certIDs != nil {
		// verify_and_map: the certificate names the user; CONNECT's
		// user and password are not consulted.
		for _, id := range o.certIDs {
			if u := st.users[id]; u != nil {
				return u, true
			}
		}
		return nil, false
	}
	// A token alone decides, unless users exist too (a listener's token
	// override beside the server's users): then a client that sends a
	// token is checked against it, and one that sends none as a user.
	if st.token != "" && (o.AuthToken != "" || len(st.users) == 0 && len(st.nkeys) == 0) {
		return nil, equal(o.AuthToken, st.token)
	}
	if o.Nkey != "" {
		u := st.nkeys[o.Nkey]
		return u, u != nil && verifyNonce(o.Nkey, o.Sig, nonce)
	}
	if st.noAuth != nil && noCreds {
		return st.noAuth, true
	}
	u := st.users[o.User]
	if u == nil {
		return nil, false
	}
	if u.hashed {
		return u, bcrypt.CompareHashAndPassword([]byte(u.password), []byte(o.Pass)) == nil
	}
	return u, equal(o.Pass, u.password)
}

// verifyNonce checks sig, the client's signature of nonce with the seed
// of the public nkey pub. nats.go sends it base64url without padding;
// standard base64 is accepted too, as nats-server does.
func verifyNonce(pub, sig string, nonce []byte) bool {
	if len(nonce) == 0 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil {
		return false
	}
	return kp.Verify(nonce, raw) == nil
}

// newNonce returns the random nonce an INFO offers nkey users to sign
// (nats-server's 11 random bytes, base64url).
func newNonce() []byte {
	var b [11]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(b)))
	base64.RawURLEncoding.Encode(out, b[:])
	return out
}

// hasUsers reports whether clients log in as named users (not no auth,
// not one shared token): only then do permissions and delivery filters
// apply.
func (st *authState) hasUsers() bool {
	return st != nil && (len(st.users) > 0 || len(st.nkeys) > 0 || st.op != nil)
}

// wantsNonce reports whether the INFO must carry a nonce (nkey users).
func (st *authState) wantsNonce() bool { return st != nil && (len(st.nkeys) > 0 || st.op != nil) }

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
