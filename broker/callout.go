package broker

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/nats-io/nuid"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/mux"
)

// Auth callout (nats-server's authorization.auth_callout): a login that is
// not one of the callout's own users is handed to a service. The broker
// signs an authorization request JWT with its server nkey (issuer: the
// callout issuer, audience "nats-authorization-request"; the client's
// CONNECT options and a fresh user nkey inside), publishes it on
// $SYS.REQ.USER.AUTH in the callout account, and waits (the auth timeout)
// for the answer: an authorization response JWT signed by the issuer,
// about that user nkey, for this server, carrying a user JWT signed by the
// issuer for that user nkey, whose audience names the account the user
// lands in and whose permissions and limits it gets. With an xkey the
// request is sealed to the service's curve key and the answer may be.
// Anything else refuses the login with 'Authorization Violation'.

// AuthCallout configures the callout.
type AuthCallout struct {
	// Issuer is the account public key that signs the answers.
	Issuer string
	// Account hosts the service (its subscription to $SYS.REQ.USER.AUTH);
	// default $G.
	Account string
	// AuthUsers log in as configured users, not through the callout: the
	// service's own logins.
	AuthUsers []string
	// XKey, when set, is the service's public curve key: requests are
	// encrypted to it.
	XKey string

	// op is set for operator mode's callout (an account JWT's
	// authorization): the account is Issuer, answers may be signed by its
	// signing keys, users may land in it or in allowed.
	op      *operatorAuth
	allowed []string
}

// Auth callout subjects and constants (nats-server auth_callout.go).
const (
	CalloutSubject      = "$SYS.REQ.USER.AUTH"
	calloutAudience     = "nats-authorization-request"
	calloutXKeyHeader   = "Nats-Server-Xkey"
	calloutReplyFmt     = "$SYS._MURMUR.AUTH.%s.*"
	calloutReplyPrefix  = "$SYS._MURMUR.AUTH."
	calloutAnswerMaxLen = 1 << 20
)

func (c *AuthCallout) validate(users map[string]bool, accounts map[string]bool) error {
	switch {
	case !nkeys.IsValidPublicAccountKey(c.Issuer):
		return fmt.Errorf("authorization.auth_callout.issuer: %q is not an account public key", c.Issuer)
	case len(c.AuthUsers) == 0:
		return errors.New("authorization.auth_callout.auth_users: the callout service needs a login of its own")
	case c.Account != "" && !accounts[c.Account]:
		return fmt.Errorf("authorization.auth_callout.account: %q is not a defined account", c.Account)
	case c.XKey != "" && !nkeys.IsValidPublicCurveKey(c.XKey):
		return fmt.Errorf("authorization.auth_callout.xkey: %q is not a public curve key", c.XKey)
	}
	for _, u := range c.AuthUsers {
		if !users[u] {
			return fmt.Errorf("authorization.auth_callout.auth_users: %q is not a configured user", u)
		}
	}
	return nil
}

// CheckCallout checks a's auth callout against its users and accounts
// (part of Validate; config readers call it to place the error).
func (a *AuthOptions) CheckCallout() error {
	if a == nil || a.Callout == nil {
		return nil
	}
	users := map[string]bool{}
	accounts := map[string]bool{GlobalAccount: true}
	for _, u := range a.Users {
		users[u.Name+u.Nkey] = true
	}
	for _, acc := range a.Accounts {
		accounts[acc.Name] = true
		for _, u := range acc.Users {
			users[u.Name+u.Nkey] = true
		}
	}
	return a.Callout.validate(users, accounts)
}

// isAuthUser reports whether name (a user name or public nkey) is one of
// the callout's own users.
func (c *AuthCallout) isAuthUser(name string) bool { return slices.Contains(c.AuthUsers, name) }

// callouts routes answers to waiting logins: one wildcard subscription
// per callout account, $SYS._MURMUR.AUTH.<server id>.*, known to routes,
// so a service on another broker reaches this one.
type callouts struct {
	mu      sync.Mutex
	acc     *account
	sub     *mux.Sub
	pending map[string]chan []byte
	xkp     nkeys.KeyPair // the server's curve key, for xkey
}

// calloutConn owns the reply subscription: Deliver hands an answer to its
// waiting login without blocking the publisher.
type calloutConn callouts

func (c *calloutConn) Kind() mux.Kind   { return mux.Client }
func (c *calloutConn) NoEcho() bool     { return false }
func (c *calloutConn) Flush()           {}
func (c *calloutConn) Expired(*mux.Sub) {}

func (c *calloutConn) Deliver(_ *mux.Sub, m *mux.Msg) (needFlush, ok bool) {
	c.mu.Lock()
	ch := c.pending[string(m.Subject)]
	delete(c.pending, string(m.Subject))
	c.mu.Unlock()
	if ch == nil || len(m.Payload) > calloutAnswerMaxLen {
		return false, false
	}
	ch <- append([]byte(nil), m.Payload...) // buffered 1, and taken once
	return false, true
}

// calloutsFor returns the server's callout routing for acc (each callout
// account has its own), installing its reply subscription on first use.
func (s *Server) calloutsFor(acc *account) (*callouts, error) {
	s.calloutMu.Lock()
	defer s.calloutMu.Unlock()
	if co := s.calloutState[acc]; co != nil {
		return co, nil
	}
	co := &callouts{acc: acc, pending: map[string]chan []byte{}}
	xkp, err := nkeys.CreateCurveKeys()
	if err != nil {
		return nil, err
	}
	co.xkp = xkp
	co.sub = &mux.Sub{Subject: fmt.Sprintf(calloutReplyFmt, s.id), SID: []byte("auth"), Owner: (*calloutConn)(co)}
	if err := acc.mux.Subscribe(co.sub); err != nil {
		return nil, err
	}
	s.localInterest(acc, co.sub, +1)
	if s.calloutState == nil {
		s.calloutState = map[*account]*callouts{}
	}
	s.calloutState[acc] = co
	return co, nil
}

// prepareCallout installs the callout account's reply subscription ahead
// of the first login, so routes know it before a service on another
// broker answers.
func (s *Server) prepareCallout(a *AuthOptions) {
	if a == nil || a.Callout == nil {
		return
	}
	name := a.Callout.Account
	if name == "" {
		name = GlobalAccount
	}
	if acc := s.account(name); acc != nil {
		if _, err := s.calloutsFor(acc); err != nil {
			s.log.Warn("auth callout replies", zap.Error(err))
		}
	}
}

// stopCallouts removes the reply subscriptions (at Close).
func (s *Server) stopCallouts() {
	s.calloutMu.Lock()
	defer s.calloutMu.Unlock()
	for acc, co := range s.calloutState {
		if acc.mux.Unsubscribe(co.sub) {
			s.localInterest(acc, co.sub, -1)
		}
	}
	s.calloutState = nil
}

// calloutPeer is the connection a callout asks about: a client or a leaf.
type calloutPeer struct {
	cid    uint64
	remote net.Addr
	nonce  []byte
	// kind and typ are the request's client_info kind and type, as
	// nats-server's ("Client" and "nats"; "Leafnode" and none).
	kind, typ string
}

func (c *client) calloutPeer() *calloutPeer {
	return &calloutPeer{cid: c.cid, remote: c.remote, nonce: c.nonce, kind: "Client", typ: "nats"}
}

// callout asks the service about c's CONNECT o and returns the login it
// grants, or why not. It runs on c's reader and waits up to timeout.
func (s *Server) callout(c *calloutPeer, o *connectOpts, cfg *AuthCallout, timeout time.Duration) (*userEntry, error) {
	name := cfg.Account
	if name == "" {
		name = GlobalAccount
	}
	acc := s.account(name)
	if acc == nil {
		return nil, fmt.Errorf("no callout account %q", name)
	}
	co, err := s.calloutsFor(acc)
	if err != nil {
		return nil, err
	}
	ukp, _ := nkeys.CreateUser()
	userPub, _ := ukp.PublicKey()
	req := jwt.NewAuthorizationRequestClaims(cfg.Issuer)
	req.Audience = calloutAudience
	req.UserNkey = userPub
	req.Expires = time.Now().Add(timeout).Unix()
	req.Server = jwt.ServerID{Name: s.Name(), Host: s.opts.Host, ID: s.id, Version: ServerVersion}
	if s.opts.Cluster != nil {
		req.Server.Cluster = s.opts.Cluster.Name
	}
	req.ClientInformation = jwt.ClientInformation{ID: c.cid, User: o.User, Name: o.Name, Kind: c.kind, Type: c.typ}
	if host, _, err := net.SplitHostPort(c.remote.String()); err == nil {
		req.ClientInformation.Host = host
	}
	req.ConnectOptions = jwt.ConnectOptions{JWT: o.JWT, Nkey: o.Nkey, SignedNonce: o.Sig, Token: o.AuthToken,
		Username: o.User, Password: o.Pass, Name: o.Name, Lang: o.Lang, Version: o.Version, Protocol: o.Protocol}
	if o.Sig != "" {
		req.ClientInformation.Nonce = string(c.nonce)
	}
	var xpub string
	if cfg.XKey != "" {
		xpub, _ = co.xkp.PublicKey()
		req.Server.XKey = xpub
	}
	token, err := req.Encode(s.key)
	if err != nil {
		return nil, err
	}
	body, header := []byte(token), []byte(nil)
	if cfg.XKey != "" {
		if body, err = co.xkp.Seal(body, cfg.XKey); err != nil {
			return nil, err
		}
		header = []byte("NATS/1.0\r\n" + calloutXKeyHeader + ": " + xpub + "\r\n\r\n")
	}
	// Unguessable, so no one in the callout account can answer first.
	reply := calloutReplyPrefix + s.id + "." + nuid.Next()
	answer := make(chan []byte, 1)
	co.mu.Lock()
	co.pending[reply] = answer
	co.mu.Unlock()
	defer func() {
		co.mu.Lock()
		delete(co.pending, reply)
		co.mu.Unlock()
	}()
	m := mux.Msg{Subject: []byte(CalloutSubject), Reply: []byte(reply), Header: header, Payload: body, Account: acc.name}
	var b mux.Batch
	if acc.mux.Publish(nil, &m, &b) == 0 {
		b.Flush()
		return nil, errors.New("no auth callout service")
	}
	b.Flush()
	select {
	case raw := <-answer:
		return s.calloutAnswer(raw, cfg, co, userPub, c)
	case <-time.After(timeout):
		return nil, errors.New("auth callout timed out")
	}
}

// calloutAnswer checks the service's answer and builds the login.
func (s *Server) calloutAnswer(raw []byte, cfg *AuthCallout, co *callouts, userPub string, c *calloutPeer) (*userEntry, error) {
	if len(raw) == 0 {
		return nil, errors.New("auth callout violation: no reason supplied")
	}
	if cfg.XKey != "" && !strings.HasPrefix(string(raw), "eyJ") {
		opened, err := co.xkp.Open(raw, cfg.XKey)
		if err != nil {
			return nil, fmt.Errorf("auth callout answer not decryptable: %v", err)
		}
		raw = opened
	}
	cr, err := jwt.DecodeAuthorizationResponseClaims(string(raw))
	if err != nil {
		return nil, fmt.Errorf("auth callout answer: %v", err)
	}
	vr := jwt.CreateValidationResults()
	cr.Validate(vr)
	switch {
	case len(vr.Issues) > 0:
		return nil, fmt.Errorf("auth callout answer: %v", vr.Issues[0].Description)
	case cr.Subject != userPub:
		return nil, errors.New("auth callout violation: auth callout response is not for expected user")
	case cr.Audience != s.id:
		return nil, errors.New("auth callout violation: auth callout response is not for server")
	case cr.Error != "":
		return nil, fmt.Errorf("auth callout service returned an error: %v", cr.Error)
	case cfg.op == nil && cr.Issuer != cfg.Issuer:
		return nil, fmt.Errorf("auth callout answer signed by %s, not the issuer", cr.Issuer)
	case cfg.op != nil && !cfg.signedByAccount(cr.Issuer, cr.IssuerAccount):
		return nil, errors.New("auth callout signing key is unknown")
	}
	if cfg.op != nil {
		return cfg.operatorUser(cr.Jwt, userPub, c)
	}
	uc, err := jwt.DecodeUserClaims(cr.Jwt)
	if err != nil {
		return nil, fmt.Errorf("auth callout user JWT: %v", err)
	}
	vr = jwt.CreateValidationResults()
	uc.Validate(vr)
	switch {
	case vr.IsBlocking(true):
		return nil, fmt.Errorf("auth callout user JWT: %s", blockingIssue(vr))
	case uc.IssuerAccount != "":
		return nil, errors.New("auth callout user JWT: issuer_account outside operator mode")
	case uc.Issuer != cfg.Issuer:
		return nil, fmt.Errorf("wrong issuer for auth callout response, expected %q got %q", cfg.Issuer, uc.Issuer)
	case uc.Subject != userPub:
		return nil, fmt.Errorf("expected authorized user of %q but got %q", userPub, uc.Subject)
	}
	if err := admitSource(uc.Src, c.remote); err != nil {
		return nil, err
	}
	if err := admitTime(uc.Times, uc.Locale, time.Now()); err != nil {
		return nil, err
	}
	placement := uc.Audience
	if placement == "" {
		placement = GlobalAccount
	}
	if s.account(placement) == nil {
		return nil, fmt.Errorf("no valid account %q for auth callout response", placement)
	}
	name := uc.Name
	if name == "" {
		name = uc.Subject
	}
	g := &jwtGrant{maxSubs: uc.Limits.Subs, maxPayload: uc.Limits.Payload, connTypes: uc.AllowedConnectionTypes}
	if uc.Expires > 0 {
		g.expires = time.Unix(uc.Expires, 0)
	}
	return &userEntry{name: name, perms: compilePerms(jwtPermissions(uc.Permissions)), account: placement, jwt: g, callout: true}, nil
}

// signedByAccount reports whether issuer (for issuerAccount, when set) is
// the callout account or one of its signing keys.
func (cfg *AuthCallout) signedByAccount(issuer, issuerAccount string) bool {
	if issuer == cfg.Issuer {
		return true
	}
	if issuerAccount != "" && issuerAccount != cfg.Issuer {
		return false
	}
	ac, err := cfg.op.account(cfg.Issuer)
	return err == nil && ac.SigningKeys.Contains(issuer)
}

// operatorUser checks the user JWT an operator-mode callout returned: for
// the user nkey asked about, from the callout account or one it allows,
// and admitted by that account as any login (chain, revocations, scopes).
func (cfg *AuthCallout) operatorUser(token, userPub string, c *calloutPeer) (*userEntry, error) {
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return nil, fmt.Errorf("auth callout user JWT: %v", err)
	}
	vr := jwt.CreateValidationResults()
	uc.Validate(vr)
	if vr.IsBlocking(true) {
		return nil, fmt.Errorf("auth callout user JWT: %s", blockingIssue(vr))
	}
	if uc.Subject != userPub {
		return nil, fmt.Errorf("expected authorized user of %q but got %q", userPub, uc.Subject)
	}
	target := uc.Issuer
	if uc.IssuerAccount != "" {
		target = uc.IssuerAccount
	}
	if target != cfg.Issuer && !slices.Contains(cfg.allowed, target) {
		return nil, fmt.Errorf("account %q not permitted as valid account option for auth callout for account %q", target, cfg.Issuer)
	}
	u, err := cfg.op.admit(uc, c.remote, time.Now())
	if err != nil {
		return nil, err
	}
	u.callout, u.issued = true, uc
	return u, nil
}

// accountCallout is the callout an operator-mode login goes through: its
// account's JWT enables external authorization and the user is not one of
// its auth users. nil: none.
func accountCallout(op *operatorAuth, u *userEntry) *AuthCallout {
	if op == nil || u == nil || u.jwt == nil || u.jwt.account == nil {
		return nil
	}
	ac := u.jwt.account
	if !ac.HasExternalAuthorization() || ac.Authorization.AuthUsers.Contains(u.name) {
		return nil
	}
	return &AuthCallout{Issuer: ac.Subject, Account: ac.Subject, XKey: ac.Authorization.XKey,
		op: op, allowed: ac.Authorization.AllowedAccounts}
}
