package broker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Operator mode (nats-server's decentralized auth): an operator key signs
// account JWTs, an account (or one of its signing keys) signs user JWTs,
// and a user connects with its JWT and a signature of the INFO nonce
// (nats.go nats.UserCredentials). The broker keeps no users: it checks
// each CONNECT's chain (user, account, operator) with jwt/v2 and nkeys,
// and finds account JWTs through an AccountResolver. An account is named
// by its public key; it is created the first time one of its users
// connects (or an import names it).

// OperatorOptions turn operator mode on. With it, AuthOptions may hold
// nothing but SystemAccount (an account public key) and Timeout.
type OperatorOptions struct {
	// Operators are the trusted operator JWTs.
	Operators []string
	// Resolver finds account JWTs by public key. An UpdatableResolver
	// (DirResolver, MemoryResolver) also takes pushed JWTs.
	Resolver AccountResolver
	// SyncInterval is how often brokers of a cluster compare what their
	// resolvers hold and exchange what differs; 0 means 2 minutes
	// (nats-server's full resolver interval).
	SyncInterval time.Duration
}

// DefaultSyncInterval is the resolver sync interval when none is set.
const DefaultSyncInterval = 2 * time.Minute

// AccountResolver finds account JWTs by public key. The broker's auth is
// its one user; an implementation may do I/O (Fetch runs on the
// connecting client's reader goroutine).
type AccountResolver interface {
	// Fetch returns the JWT of the account pub, or an error wrapping
	// ErrAccountNotFound.
	Fetch(pub string) (string, error)
}

// ErrAccountNotFound is a resolver's answer for an unknown account.
var ErrAccountNotFound = errors.New("account not found")

// MemoryResolver holds account JWTs in memory: nats-server's
// `resolver: MEMORY` with `resolver_preload`.
type MemoryResolver struct {
	mu   sync.RWMutex
	jwts map[string]string
}

// NewMemoryResolver returns a resolver holding preload (public key ->
// account JWT).
func NewMemoryResolver(preload map[string]string) *MemoryResolver {
	r := &MemoryResolver{jwts: make(map[string]string, len(preload))}
	for k, v := range preload {
		r.jwts[k] = v
	}
	return r
}

// Fetch implements AccountResolver.
func (r *MemoryResolver) Fetch(pub string) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t, ok := r.jwts[pub]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w: %s", ErrAccountNotFound, pub)
}

// Store implements UpdatableResolver: token replaces pub's JWT unless
// the one held is newer.
func (r *MemoryResolver) Store(pub, token string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !newerJWT(r.jwts[pub], token) {
		return false, nil
	}
	r.jwts[pub] = token
	return true, nil
}

// trustedOperators are the decoded operator JWTs.
type trustedOperators []*jwt.OperatorClaims

// decodeOperators decodes and validates the operator JWTs.
func decodeOperators(tokens []string) (trustedOperators, error) {
	if len(tokens) == 0 {
		return nil, errors.New("operator: no operator JWT")
	}
	var ops trustedOperators
	for i, t := range tokens {
		oc, err := jwt.DecodeOperatorClaims(t)
		if err != nil {
			return nil, fmt.Errorf("operator[%d]: %v", i, err)
		}
		vr := jwt.CreateValidationResults()
		oc.Validate(vr)
		if vr.IsBlocking(true) {
			return nil, fmt.Errorf("operator[%d]: %v", i, blockingIssue(vr))
		}
		ops = append(ops, oc)
	}
	return ops, nil
}

// signed reports whether one of the operators (or a signing key of one)
// signed ac.
func (ops trustedOperators) signed(ac *jwt.AccountClaims) bool {
	for _, oc := range ops {
		if oc.DidSign(ac) {
			return true
		}
	}
	return false
}

// systemAccount is the first operator's system_account claim.
func (ops trustedOperators) systemAccount() string {
	for _, oc := range ops {
		if oc.SystemAccount != "" {
			return oc.SystemAccount
		}
	}
	return ""
}

// decodeAccount decodes an account JWT and checks it: valid, not
// expired, signed by a trusted operator, and about pub.
func (ops trustedOperators) decodeAccount(pub, token string) (*jwt.AccountClaims, error) {
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return nil, err
	}
	if ac.Subject != pub {
		return nil, fmt.Errorf("account JWT is for %s, not %s", ac.Subject, pub)
	}
	vr := jwt.CreateValidationResults()
	ac.Validate(vr)
	if vr.IsBlocking(true) {
		return nil, fmt.Errorf("account JWT invalid: %v", blockingIssue(vr))
	}
	if !ops.signed(ac) {
		return nil, errors.New("account JWT not signed by a trusted operator")
	}
	return ac, nil
}

func (o *OperatorOptions) validate(a *AuthOptions) error {
	switch {
	case o.Resolver == nil:
		return errors.New("resolver: operator mode needs a resolver")
	case a.Token != "" || len(a.Users) > 0 || len(a.Accounts) > 0 || a.NoAuthUser != "" || a.System != nil:
		return errors.New("operator: users, accounts, tokens and no_auth_user cannot be configured in operator mode (accounts and users are JWTs)")
	case a.SystemAccount != "" && !nkeys.IsValidPublicAccountKey(a.SystemAccount):
		return fmt.Errorf("system_account: %q is not an account public key (operator mode)", a.SystemAccount)
	}
	_, err := decodeOperators(o.Operators)
	return err
}

// blockingIssue describes the first issue of vr that blocks the claim
// (an error, or a time check such as an expiry).
func blockingIssue(vr *jwt.ValidationResults) string {
	for _, i := range vr.Issues {
		if i.Blocking || i.TimeCheck {
			return i.Description
		}
	}
	return "invalid"
}

// trusted reports whether key is an operator's key or signing key.
func (ops trustedOperators) trusted(key string) bool {
	for _, oc := range ops {
		if oc.Subject == key || oc.SigningKeys.Contains(key) {
			return true
		}
	}
	return false
}
