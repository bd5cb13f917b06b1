package broker

import (
	"crypto/subtle"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/murmurmq/murmur/pubsub"
)

// authState is AuthOptions compiled for lookups; a reload swaps in a new one.
type authState struct {
	token string
	users map[string]*userEntry
}

type userEntry struct {
	password string
	hashed   bool // bcrypt
	perms    *permissions
}

func compileAuth(a *AuthOptions) *authState {
	if !a.Required() {
		return nil
	}
	st := &authState{token: a.Token, users: make(map[string]*userEntry, len(a.Users))}
	for _, u := range a.Users {
		st.users[u.Name] = &userEntry{
			password: u.Password,
			hashed:   strings.HasPrefix(u.Password, "$2"),
			perms:    compilePerms(u.Permissions),
		}
	}
	return st
}

// check verifies CONNECT credentials. It returns the user (nil for token
// auth) and whether they are good.
func (st *authState) check(o *connectOpts) (*userEntry, bool) {
	if st.token != "" {
		return nil, equal(o.AuthToken, st.token)
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

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// permissions are compiled SubjectRules for one user.
type permissions struct {
	pub, sub rules
}

type rules struct {
	allow, deny []string
}

func compilePerms(p *Permissions) *permissions {
	if p == nil {
		return nil
	}
	return &permissions{
		pub: rules{allow: p.Publish.Allow, deny: p.Publish.Deny},
		sub: rules{allow: p.Subscribe.Allow, deny: p.Subscribe.Deny},
	}
}

// permits reports whether subject passes the rules. For a subscription with
// wildcards, its tokens are matched as literals, so "foo.*" is allowed by
// "foo.*" or "foo.>" but not by "foo.bar".
func (r *rules) permits(subject string) bool {
	if len(r.allow) > 0 {
		ok := false
		for _, p := range r.allow {
			if pubsub.SubjectMatches(p, subject) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, p := range r.deny {
		if pubsub.SubjectMatches(p, subject) {
			return false
		}
	}
	return true
}

// pubCacheMax bounds a client's cache of publish permission decisions.
const pubCacheMax = 1024

// canPublish checks (and caches, per client) a publish subject against the
// client's permissions. Reader goroutine only.
func (c *client) canPublish(subject []byte) bool {
	p := c.perms.Load()
	if p == nil {
		return true
	}
	if c.pubCachePerms != p {
		c.pubCache, c.pubCachePerms = make(map[string]bool), p
	}
	if ok, hit := c.pubCache[string(subject)]; hit {
		return ok
	}
	ok := p.pub.permits(string(subject))
	if len(c.pubCache) >= pubCacheMax {
		clear(c.pubCache)
	}
	c.pubCache[string(subject)] = ok
	return ok
}

func (c *client) canSubscribe(subject string) bool {
	p := c.perms.Load()
	return p == nil || p.sub.permits(subject)
}
