package broker

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/murmurmq/murmur/pubsub"
	"github.com/nats-io/nkeys"
)

// DefaultAuthTimeout is how long a client has to send CONNECT when
// authentication is required (nats-server's default).
const DefaultAuthTimeout = 2 * time.Second

// AuthOptions configure client authentication. With neither Token nor
// users (here or in Accounts) set, clients need no credentials and all
// share the global account $G.
type AuthOptions struct {
	// Token, when set, must equal CONNECT's auth_token.
	Token string
	// Users are the accepted users of the global account $G (user and
	// password, or an nkey), each with optional permissions. Passwords
	// starting with "$2" are bcrypt hashes.
	Users []User
	// Accounts are subject spaces of their own, each with its users
	// (nats-server accounts): a client lands in its user's account, and
	// the same subject in two accounts never meets.
	Accounts []Account
	// NoAuthUser names a user (in Users or an account) that a client
	// sending no credentials is logged in as (nats-server no_auth_user).
	NoAuthUser string
	// SystemAccount names the account (one of Accounts) the system
	// responder answers in and server events are published to
	// (nats-server system_account). Only its users see any of it: no
	// other account shares its subject space. Empty means the implicit
	// account $SYS (DefaultSystemAccount), which exists with no users
	// unless Accounts defines it or System logs into it.
	SystemAccount string
	// Timeout is how long a client has to authenticate; 0 means 2 s.
	Timeout time.Duration
	// System is a shorthand for one more user of the system account
	// (the Murmur-only `system_account { user, password }` block and
	// --system_user flags): a login allowed everything there. When it is
	// the only credential configured (no token, no other users), clients
	// that send no credentials still land in $G as without
	// authentication, so adding a system user locks nobody out. Its
	// Permissions are ignored.
	System *User
	// Operator turns on operator mode (nats-server's decentralized auth):
	// users connect with JWTs signed by their accounts, whose JWTs the
	// operators signed. Token, Users, Accounts, NoAuthUser and System
	// must then be empty, and SystemAccount, if set, is an account public
	// key (default: the operator's system_account claim).
	Operator *OperatorOptions
	// Callout hands each login but those of its AuthUsers to an auth
	// callout service (nats-server's authorization.auth_callout).
	Callout *AuthCallout
}

// DefaultSystemAccount is the system account when none is named
// (nats-server's implicit $SYS).
const DefaultSystemAccount = "$SYS"

// systemAccount is the system account's name.
func (a *AuthOptions) systemAccount() string {
	switch {
	case a == nil:
		return DefaultSystemAccount
	case a.SystemAccount != "":
		return a.SystemAccount
	case a.Operator != nil:
		if ops, err := decodeOperators(a.Operator.Operators); err == nil && ops.systemAccount() != "" {
			return ops.systemAccount()
		}
	}
	return DefaultSystemAccount
}

// Required reports whether clients must authenticate.
func (a *AuthOptions) Required() bool {
	return a != nil && (a.Token != "" || a.hasUsers() || a.System != nil || a.Operator != nil || a.Callout != nil)
}

// anonymous reports whether clients may send no credentials and land in
// $G: the system user is the only credential configured.
func (a *AuthOptions) anonymous() bool {
	return a != nil && a.System != nil && a.Token == "" && !a.hasUsers() && a.NoAuthUser == ""
}

// hasUsers reports whether any user is configured, in $G or an account.
func (a *AuthOptions) hasUsers() bool {
	if len(a.Users) > 0 {
		return true
	}
	for _, acc := range a.Accounts {
		if len(acc.Users) > 0 {
			return true
		}
	}
	return false
}

// Account is one account of the configuration: a name, its users, and
// what it shares with other accounts.
type Account struct {
	Name    string
	Users   []User
	Exports []Export
	Imports []Import
	// Mappings are its subject mappings (mappings.go).
	Mappings []Mapping
	// MaxLeafNodes bounds its leaf node connections (nats-server's
	// limits.max_leafnodes; leaf_limits.go): 0 means no limit, a negative
	// value none at all.
	MaxLeafNodes int
}

// Export offers a stream (messages published on Stream's subjects) or a
// service (requests to Service's subjects, answered by this account) to
// other accounts: to all, or only to those named in Accounts.
type Export struct {
	Stream   string
	Service  string
	Accounts []string
	// ResponseType says how many responses a service request may get back
	// across the import: ResponseSingleton (the default), ResponseStream
	// or ResponseChunked (any number, until ResponseThreshold).
	ResponseType string
	// ResponseThreshold is how long responses to one request are let
	// through; 0 means 2 minutes.
	ResponseThreshold time.Duration
}

// Service response types (nats-server's response_type).
const (
	ResponseSingleton = "singleton"
	ResponseStream    = "stream"
	ResponseChunked   = "chunked"
)

// DefaultResponseThreshold is how long a service import maps responses
// back when the export does not say (nats-server's default).
const DefaultResponseThreshold = 2 * time.Minute

// Import brings another account's export into this one. A stream import
// delivers Account's messages on Stream's subjects here, under Prefix
// ("prefix.<subject>") or on the subject To maps them to: To's "*" tokens
// take Stream's wildcards in order, "$N" or "{{wildcard(N)}}" the N-th,
// and every wildcard and a trailing ">" must be kept ("a.*.*" to
// "b.$2.$1"). A service import lets this account's clients send requests
// to To (default: the Service subject) that reach Account's responders on
// Service, To's wildcards mapped back onto Service's the same way, with
// the responses mapped back. Prefix and To are nats-server's keys, with
// its rules; a stream import takes one or the other.
type Import struct {
	Account string
	Stream  string
	Service string
	Prefix  string
	To      string
}

// User is one login: a name and password, or an nkey.
type User struct {
	Name     string
	Password string
	// Nkey, instead of Name and Password, is the user's public nkey
	// ("U..."): the client proves it holds the seed by signing the nonce
	// of the server's INFO (nats.go nats.Nkey, NkeyOptionFromSeed).
	Nkey string
	// Permissions limit what the user may publish and subscribe to; nil
	// allows everything.
	Permissions *Permissions
}

// Permissions are a user's publish and subscribe rules.
type Permissions struct {
	Publish SubjectRules
	// Subscribe entries may name a queue after the subject ("foo q1"):
	// such an entry allows (or denies) only that queue group, or, with
	// wildcards in the queue name, the queue names it matches.
	Subscribe SubjectRules
	// Response, when set, lets the user publish to the reply subject of
	// each request delivered to it (nats-server allow_responses), even
	// where the publish rules refuse it. Without publish rules, only
	// responses may be published.
	Response *ResponsePermission
}

// SubjectRules allow and deny subjects (wildcards allowed). A subject is
// permitted when Allow is nil or matches it, and Deny does not; a
// subscription is also checked at delivery, so a wildcard never receives a
// subject its rules refuse.
type SubjectRules struct {
	Allow []string
	Deny  []string
}

// ResponsePermission bounds allow_responses: each received reply subject
// may be published to MaxMsgs times within Expires of the request's
// delivery. Zero takes nats-server's default (1 message, 2 minutes); a
// negative value means no limit.
type ResponsePermission struct {
	MaxMsgs int
	Expires time.Duration
}

// nats-server's allow_responses defaults (allow_responses: true).
const (
	DefaultResponseMaxMsgs = 1
	DefaultResponseExpires = 2 * time.Minute
)

// TLSOptions put TLS on the TCP client listener.
type TLSOptions struct {
	// Config is the server TLS configuration (certificates; ClientAuth and
	// ClientCAs for verify).
	Config *tls.Config
	// HandshakeFirst starts TLS before INFO (nats.go TLSHandshakeFirst);
	// otherwise INFO says tls_required and the client upgrades after it.
	HandshakeFirst bool
	// Timeout bounds the handshake; 0 means 2 s.
	Timeout time.Duration
	// Map logs a client in as the user its verified certificate names
	// (nats-server's verify_and_map): an email or DNS name of the
	// certificate, or its subject ("CN=alice,O=Acme"), is the user name,
	// and no password is asked. Config must verify client certificates.
	Map bool
}

// LameDuckOptions tune lame-duck mode (see Server.LameDuck).
type LameDuckOptions struct {
	// Duration is the window over which clients are closed; 0 means 2 min.
	Duration time.Duration
	// GracePeriod is the wait before the first client is closed; 0 means 10 s.
	GracePeriod time.Duration
}

func (a *AuthOptions) validate() error {
	if a == nil {
		return nil
	}
	if a.Timeout < 0 {
		return fmt.Errorf("authorization.timeout: %v is negative", a.Timeout)
	}
	if a.Operator != nil {
		if a.Callout != nil {
			return fmt.Errorf("authorization.auth_callout: in operator mode the callout is an account JWT's authorization")
		}
		return a.Operator.validate(a)
	}
	if a.Token != "" && a.hasUsers() {
		return fmt.Errorf("authorization: token and users cannot both be set")
	}
	seen := map[string]bool{} // user names and nkeys, across all accounts
	if a.System != nil {
		if a.System.Name == "" {
			return fmt.Errorf("system_account.user: empty")
		}
		seen[a.System.Name] = true
	}
	if err := validateUsers("authorization.users", a.Users, seen); err != nil {
		return err
	}
	// Every account a name may refer to: $G, the implicit $SYS, and the
	// defined ones (which may include $SYS).
	accounts := map[string]bool{GlobalAccount: true, DefaultSystemAccount: true}
	defined := map[string]bool{}
	for i, acc := range a.Accounts {
		switch {
		case acc.Name == "":
			return fmt.Errorf("accounts[%d]: empty name", i)
		case acc.Name == GlobalAccount || defined[acc.Name]:
			return fmt.Errorf("accounts.%s: account defined twice (or reserved)", acc.Name)
		}
		accounts[acc.Name], defined[acc.Name] = true, true
		if err := validateUsers("accounts."+acc.Name+".users", acc.Users, seen); err != nil {
			return err
		}
	}
	if err := validateImports(a.Accounts); err != nil {
		return err
	}
	if a.SystemAccount != "" && (a.SystemAccount == GlobalAccount || !accounts[a.SystemAccount]) {
		return fmt.Errorf("system_account: %q is not a defined account", a.SystemAccount)
	}
	if c := a.Callout; c != nil {
		if err := c.validate(seen, accounts); err != nil {
			return err
		}
	}
	if a.NoAuthUser != "" && !seen[a.NoAuthUser] {
		return fmt.Errorf("no_auth_user: %q not present as user or nkey in authorization block or account configuration", a.NoAuthUser)
	}
	return nil
}

// validateUsers checks one list of users; seen collects names and nkeys
// so none appears twice anywhere.
func validateUsers(path string, users []User, seen map[string]bool) error {
	for i, u := range users {
		id := u.Name
		switch {
		case u.Nkey != "" && (u.Name != "" || u.Password != ""):
			return fmt.Errorf("%s[%d]: nkey users have no user or password", path, i)
		case u.Nkey != "":
			if !nkeys.IsValidPublicUserKey(u.Nkey) {
				return fmt.Errorf("%s[%d].nkey: %q is not a valid public user nkey", path, i, u.Nkey)
			}
			id = u.Nkey
		case u.Name == "":
			return fmt.Errorf("%s[%d].user: empty", path, i)
		}
		if seen[id] {
			return fmt.Errorf("%s[%d].user: %q appears twice", path, i, id)
		}
		seen[id] = true
		if p := u.Permissions; p != nil {
			for _, r := range []struct {
				name string
				subs []string
			}{{"publish.allow", p.Publish.Allow}, {"publish.deny", p.Publish.Deny},
				{"subscribe.allow", p.Subscribe.Allow}, {"subscribe.deny", p.Subscribe.Deny}} {
				for _, s := range r.subs {
					if strings.HasPrefix(r.name, "subscribe") {
						if _, q, ok := splitSubjectQueue(s); !ok || q != "" && !pubsub.ValidQueueName(q) {
							return fmt.Errorf("%s[%d].permissions.%s: invalid subject %q", path, i, r.name, s)
						}
					} else if !pubsub.ValidSubject(s) {
						return fmt.Errorf("%s[%d].permissions.%s: invalid subject %q", path, i, r.name, s)
					}
				}
			}
		}
	}
	return nil
}

// ValidateAccounts checks every export and import of accounts: subjects,
// response types, that the exporting account exists and exports what is
// imported to the importing account. Errors name the export or import
// ("accounts.B.imports[0]: ...").
func ValidateAccounts(accounts []Account) error { return validateImports(accounts) }

func validateImports(accounts []Account) error {
	byName := map[string]*Account{}
	for i := range accounts {
		byName[accounts[i].Name] = &accounts[i]
	}
	for _, acc := range accounts {
		for i, e := range acc.Exports {
			path := fmt.Sprintf("accounts.%s.exports[%d]", acc.Name, i)
			subj := e.Stream + e.Service
			switch {
			case (e.Stream == "") == (e.Service == ""):
				return fmt.Errorf("%s: set stream or service", path)
			case !pubsub.ValidSubject(subj):
				return fmt.Errorf("%s: invalid subject %q", path, subj)
			case e.ResponseThreshold < 0:
				return fmt.Errorf("%s.response_threshold: %v is negative", path, e.ResponseThreshold)
			}
			switch e.ResponseType {
			case "", ResponseSingleton, ResponseStream, ResponseChunked:
			default:
				return fmt.Errorf("%s.response_type: %q is not singleton, stream or chunked", path, e.ResponseType)
			}
			if e.Stream != "" && (e.ResponseType != "" || e.ResponseThreshold != 0) {
				return fmt.Errorf("%s: response_type and response_threshold apply to services only", path)
			}
		}
		for i, im := range acc.Imports {
			path := fmt.Sprintf("accounts.%s.imports[%d]", acc.Name, i)
			subj, kind := im.Stream, "stream"
			if im.Service != "" {
				subj, kind = im.Service, "service"
			}
			switch {
			case (im.Stream == "") == (im.Service == ""):
				return fmt.Errorf("%s: set stream or service", path)
			case !pubsub.ValidSubject(subj):
				return fmt.Errorf("%s: invalid subject %q", path, subj)
			case im.Account == acc.Name:
				return fmt.Errorf("%s: an account cannot import from itself", path)
			case im.Prefix != "" && im.To != "" && im.Stream != "":
				// nats-server's text.
				return fmt.Errorf("%s.to: stream import can not have a 'prefix' and a 'to' property", path)
			case im.Prefix != "" && (im.Service != "" || !pubsub.ValidLiteralSubject(im.Prefix)):
				return fmt.Errorf("%s.prefix: %q must be a literal subject on a stream import", path, im.Prefix)
			case im.To != "" && !pubsub.ValidSubject(im.To):
				return fmt.Errorf("%s.to: invalid subject %q", path, im.To)
			}
			exp := byName[im.Account]
			if exp == nil {
				return fmt.Errorf("%s: account %q is not defined", path, im.Account)
			}
			if !exports(exp, kind, subj, acc.Name) {
				return fmt.Errorf("%s: account %q does not export %s %q to account %q", path, im.Account, kind, subj, acc.Name)
			}
			if err := checkMapping(im); err != nil {
				return fmt.Errorf("%s.to: %w", path, err)
			}
		}
	}
	return nil
}

// exports reports whether acc exports subj (wholly, as kind) to importer.
func exports(acc *Account, kind, subj, importer string) bool {
	for _, e := range acc.Exports {
		es := e.Stream
		if kind == "service" {
			es = e.Service
		}
		if es == "" || !pubsub.SubjectIsSubset(subj, es) {
			continue
		}
		if len(e.Accounts) == 0 || slices.Contains(e.Accounts, importer) {
			return true
		}
	}
	return false
}
