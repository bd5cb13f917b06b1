package broker

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/pubsub"
)

// operatorAuth is operator mode compiled: the trusted operators and the
// resolver that finds account JWTs.
type operatorAuth struct {
	ops      trustedOperators
	resolver AccountResolver
	// decoded caches the last checked JWT of each account, so a connect
	// whose account JWT has not changed skips decoding and verifying it.
	decoded sync.Map // account public key -> *decodedAccount
}

type decodedAccount struct {
	token  string
	claims *jwt.AccountClaims
}

// jwtGrant is what a checked user JWT grants beyond a userEntry's
// permissions: the account's claims and the connection's limits.
type jwtGrant struct {
	account *jwt.AccountClaims
	// maxSubs and maxPayload: the lower of the user's and the account's
	// limits (-1: none).
	maxSubs, maxPayload int64
	// expires is when the user JWT expires (zero: never).
	expires time.Time
	// connTypes are the user's allowed_connection_types (empty: any).
	connTypes jwt.StringList
}

// account fetches, decodes and checks the account pub.
func (op *operatorAuth) account(pub string) (*jwt.AccountClaims, error) {
	if !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("%q is not an account public key", pub)
	}
	token, err := op.resolver.Fetch(pub)
	if err != nil {
		return nil, err
	}
	if v, ok := op.decoded.Load(pub); ok && v.(*decodedAccount).token == token {
		ac := v.(*decodedAccount).claims
		if ac.Expires > 0 && time.Now().Unix() >= ac.Expires {
			return nil, errors.New("account JWT expired")
		}
		return ac, nil
	}
	ac, err := op.ops.decodeAccount(pub, token)
	if err != nil {
		return nil, err
	}
	op.decoded.Store(pub, &decodedAccount{token: token, claims: ac})
	return ac, nil
}

// check verifies a CONNECT in operator mode: the user JWT (valid, not
// expired, within its src and times), its signature of the nonce (unless
// a bearer token), its account (resolved, signed by an operator, signer
// of the user JWT directly or by a signing key, not revoking it). It
// returns the login or why it was refused.
func (op *operatorAuth) check(o *connectOpts, nonce []byte, remote net.Addr, now time.Time) (*userEntry, error) {
	if o.JWT == "" {
		return nil, errors.New("no user JWT")
	}
	uc, err := jwt.DecodeUserClaims(o.JWT)
	if err != nil {
		return nil, fmt.Errorf("user JWT: %v", err)
	}
	vr := jwt.CreateValidationResults()
	uc.Validate(vr)
	if vr.IsBlocking(true) {
		return nil, fmt.Errorf("user JWT: %v", blockingIssue(vr))
	}
	if !uc.BearerToken && !verifyNonce(uc.Subject, o.Sig, nonce) {
		return nil, errors.New("nonce signature does not verify")
	}
	return op.admit(uc, remote, now)
}

// admit checks a decoded, valid user JWT against its account (the chain,
// revocations, bearer rules, a scoped key's template, src and times) and
// returns the login it grants. The nonce (or the callout) was checked.
func (op *operatorAuth) admit(uc *jwt.UserClaims, remote net.Addr, now time.Time) (*userEntry, error) {
	accPub := uc.Issuer
	if uc.IssuerAccount != "" {
		accPub = uc.IssuerAccount
	}
	ac, err := op.account(accPub)
	if err != nil {
		return nil, fmt.Errorf("account %s: %v", accPub, err)
	}
	switch {
	case !ac.DidSign(uc):
		return nil, fmt.Errorf("user JWT not signed by account %s or its signing keys", accPub)
	case ac.IsClaimRevoked(uc):
		return nil, errors.New("user JWT revoked")
	case uc.BearerToken && ac.Limits.DisallowBearer:
		return nil, errors.New("bearer tokens disallowed by the account")
	}
	limits := uc.UserPermissionLimits
	if scope, ok := ac.SigningKeys.GetScope(uc.Issuer); ok && scope != nil {
		if err := scope.ValidateScopedSigner(uc); err != nil {
			return nil, fmt.Errorf("scoped signing key: %v", err)
		}
		us, ok := scope.(*jwt.UserScope)
		if !ok {
			return nil, errors.New("scoped signing key: not a user scope")
		}
		if limits, err = expandTemplate(us.Template, uc, ac); err != nil {
			return nil, fmt.Errorf("scoped signing key template: %v", err)
		}
	}
	if err := admitSource(limits.Src, remote); err != nil {
		return nil, err
	}
	if err := admitTime(limits.Times, limits.Locale, now); err != nil {
		return nil, err
	}
	perms := limits.Permissions
	if emptyPermissions(perms) {
		perms = ac.DefaultPermissions
	}
	g := &jwtGrant{
		connTypes:  limits.AllowedConnectionTypes,
		account:    ac,
		maxSubs:    lowerLimit(limits.Subs, ac.Limits.Subs),
		maxPayload: lowerLimit(limits.Payload, ac.Limits.Payload),
	}
	if uc.Expires > 0 {
		g.expires = time.Unix(uc.Expires, 0)
	}
	return &userEntry{name: uc.Subject, nkey: true, perms: compilePerms(jwtPermissions(perms)), account: accPub, jwt: g}, nil
}

// lowerLimit is the tighter of two jwt limits (-1, NoLimit, means none).
func lowerLimit(a, b int64) int64 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

func emptyPermissions(p jwt.Permissions) bool {
	return len(p.Pub.Allow) == 0 && len(p.Pub.Deny) == 0 && len(p.Sub.Allow) == 0 && len(p.Sub.Deny) == 0 && p.Resp == nil
}

// jwtPermissions converts JWT permissions (an empty allow list allows
// everything) to the broker's (nil Allow does).
func jwtPermissions(p jwt.Permissions) *Permissions {
	if emptyPermissions(p) {
		return nil
	}
	list := func(l jwt.StringList) []string {
		if len(l) == 0 {
			return nil
		}
		return append([]string(nil), l...)
	}
	perms := &Permissions{
		Publish:   SubjectRules{Allow: list(p.Pub.Allow), Deny: list(p.Pub.Deny)},
		Subscribe: SubjectRules{Allow: list(p.Sub.Allow), Deny: list(p.Sub.Deny)},
	}
	if p.Resp != nil {
		perms.Response = &ResponsePermission{MaxMsgs: p.Resp.MaxMsgs, Expires: p.Resp.Expires}
	}
	return perms
}

// admitSource checks the client's address against the user's src CIDRs.
func admitSource(src jwt.CIDRList, remote net.Addr) error {
	if len(src) == 0 {
		return nil
	}
	host, _, err := net.SplitHostPort(remote.String())
	if err != nil {
		host = remote.String()
	}
	ip := net.ParseIP(host)
	for _, entry := range src {
		for _, cidr := range strings.Split(entry, ",") {
			if _, n, err := net.ParseCIDR(strings.TrimSpace(cidr)); err == nil && ip != nil && n.Contains(ip) {
				return nil
			}
		}
	}
	return fmt.Errorf("source %s not in the user's src CIDRs", host)
}

// admitTime checks now against the user's connection times ("15:04:05"
// ranges in locale, default the server's; a range whose end is before its
// start spans midnight).
func admitTime(ranges []jwt.TimeRange, locale string, now time.Time) error {
	if len(ranges) == 0 {
		return nil
	}
	if locale != "" {
		loc, err := time.LoadLocation(locale)
		if err != nil {
			return fmt.Errorf("times_location %q: %v", locale, err)
		}
		now = now.In(loc)
	}
	clock := now.Format("15:04:05")
	for _, r := range ranges {
		if r.Start <= r.End && clock >= r.Start && clock <= r.End ||
			r.Start > r.End && (clock >= r.Start || clock <= r.End) {
			return nil
		}
	}
	return fmt.Errorf("connection time %s outside the user's times", clock)
}

// expandTemplate fills a scoped signing key's template for the user:
// {{name()}}, {{subject()}}, {{account-name()}}, {{account-subject()}},
// {{tag(key)}} and {{account-tag(key)}} in its subjects, as nats-server.
func expandTemplate(t jwt.UserPermissionLimits, uc *jwt.UserClaims, ac *jwt.AccountClaims) (jwt.UserPermissionLimits, error) {
	var failed error
	expand := func(l jwt.StringList) jwt.StringList {
		var out jwt.StringList
		for _, s := range l {
			v, err := expandSubject(s, uc, ac)
			if err != nil {
				failed = err
				continue
			}
			out = append(out, v...)
		}
		return out
	}
	t.Pub.Allow, t.Pub.Deny = expand(t.Pub.Allow), expand(t.Pub.Deny)
	t.Sub.Allow, t.Sub.Deny = expand(t.Sub.Allow), expand(t.Sub.Deny)
	return t, failed
}

// maxTemplateSubjects bounds what one template subject may expand to
// (each tag with several values multiplies it), so a scoped key's holder
// cannot make a login expand without end.
const maxTemplateSubjects = 1024

// templateFunc matches one template call, as nats-server: any case, any
// spaces, {{name()}} or {{tag(key)}}.
var templateFunc = regexp.MustCompile(`(?i){{\s*([a-z-]+)\(\s*([^)]*?)\s*\)\s*}}`)

// expandSubject expands one template subject; a tag with several values
// gives one subject per value.
func expandSubject(s string, uc *jwt.UserClaims, ac *jwt.AccountClaims) ([]string, error) {
	if !strings.Contains(s, "{{") {
		return []string{s}, nil
	}
	tags := func(l jwt.TagList, key string) []string {
		var values []string
		for _, tag := range l {
			if k, v, ok := strings.Cut(tag, ":"); ok && strings.EqualFold(strings.TrimSpace(k), key) {
				values = append(values, strings.TrimSpace(v))
			}
		}
		return values
	}
	out := []string{s}
	for _, m := range templateFunc.FindAllStringSubmatch(s, -1) {
		call, fn, arg := m[0], strings.ToLower(m[1]), strings.ToLower(m[2])
		var values []string
		switch fn {
		case "name":
			values = []string{uc.Name}
		case "subject":
			values = []string{uc.Subject}
		case "account-name":
			values = []string{ac.Name}
		case "account-subject":
			values = []string{ac.Subject}
		case "tag":
			values = tags(uc.Tags, arg)
		case "account-tag":
			values = tags(ac.Tags, arg)
		default:
			return nil, fmt.Errorf("unknown template function in %q", s)
		}
		if len(values) == 0 || values[0] == "" {
			return nil, fmt.Errorf("template %s has no value for this user in %q", call, s)
		}
		if len(out)*len(values) > maxTemplateSubjects {
			return nil, fmt.Errorf("template %q expands to more than %d subjects", s, maxTemplateSubjects)
		}
		var next []string
		for _, o := range out {
			for _, v := range values {
				next = append(next, strings.Replace(o, call, v, 1))
			}
		}
		out = next
	}
	if strings.Contains(out[0], "{{") {
		return nil, fmt.Errorf("unknown template function in %q", s)
	}
	for _, o := range out {
		if !pubsub.ValidSubject(strings.SplitN(o, " ", 2)[0]) {
			return nil, fmt.Errorf("template %q expands to the invalid subject %q", s, o)
		}
	}
	return out, nil
}

// resolverDeletes reports whether the resolver allows deleting accounts.
func (op *operatorAuth) resolverDeletes() bool {
	d, ok := op.resolver.(*DirResolver)
	return ok && d.allowDelete
}
