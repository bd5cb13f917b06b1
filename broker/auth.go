package broker

import (
	"crypto/subtle"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
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
	st := &authState{token: a.Token, users: make(map[string]*userEntry, len(a.Users)+1)}
	sys := a.System
	if len(a.Users) == 0 {
		sys = nil
	}
	for _, u := range a.Users {
		if sys != nil {
			if u.Name == sys.Name {
				continue // the system user's entry is System
			}
			u.Permissions = denySys(u.Permissions)
		}
		st.users[u.Name] = newUserEntry(u)
	}
	if sys != nil {
		st.users[sys.Name] = newUserEntry(User{Name: sys.Name, Password: sys.Password})
	}
	return st
}

func newUserEntry(u User) *userEntry {
	return &userEntry{
		password: u.Password,
		hashed:   strings.HasPrefix(u.Password, "$2"),
		perms:    compilePerms(u.Permissions),
	}
}

// sysSubjects are the system account's subjects.
const sysSubjects = "$SYS.>"

// denySys returns p with $SYS.> denied for publish and subscribe.
func denySys(p *Permissions) *Permissions {
	d := Permissions{}
	if p != nil {
		d = *p
	}
	d.Publish.Deny = append(slices.Clone(d.Publish.Deny), sysSubjects)
	d.Subscribe.Deny = append(slices.Clone(d.Subscribe.Deny), sysSubjects)
	return &d
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

// hasUsers reports whether clients log in as named users (not no auth,
// not one shared token): only then do permissions, delivery filters and
// the system user's privacy apply.
func (st *authState) hasUsers() bool { return st != nil && len(st.users) > 0 }

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
