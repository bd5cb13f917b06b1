package broker

import (
	"net/http"
	"time"
)

// ListenerAuth overrides authentication for the clients of one listener
// (nats-server's websocket { authorization {..}, no_auth_user, *_cookie }).
// With User, Token or NoAuthUser set, its clients must authenticate even
// when others need not: Token and NoAuthUser replace the server's, and
// User/Password is one more login (of $G), beside the configured users.
// The cookies name HTTP cookies of the upgrade request (WebSocket) whose
// values stand in for CONNECT fields the client left empty.
type ListenerAuth struct {
	User, Password string
	Token          string
	NoAuthUser     string
	// Timeout, when set, replaces the auth timeout for its clients.
	Timeout time.Duration

	JWTCookie, UserCookie, PassCookie, TokenCookie string
}

// overrides reports whether la changes who may log in.
func (la *ListenerAuth) overrides() bool {
	return la != nil && (la.User != "" || la.Token != "" || la.NoAuthUser != "")
}

// apply is base with la's overrides.
func (la *ListenerAuth) apply(base *AuthOptions) *AuthOptions {
	a := AuthOptions{}
	if base != nil {
		a = *base
	}
	a.Token, a.NoAuthUser = la.Token, la.NoAuthUser
	if la.User != "" {
		a.Users = append(append([]User(nil), a.Users...), User{Name: la.User, Password: la.Password})
	}
	if la.Timeout > 0 {
		a.Timeout = la.Timeout
	}
	return &a
}

// Validate checks la against the server's authentication base.
func (la *ListenerAuth) Validate(base *AuthOptions) error {
	if !la.overrides() {
		return nil
	}
	a := la.apply(base)
	a.Token = "" // a listener's token may stand beside the users
	return a.validate()
}

// listenerAuth is a listener's compiled override, kept until the
// server's authentication or the listener's settings change.
type listenerAuth struct {
	base *authState
	spec *ListenerAuth
	st   *authState
}

// authFor is the authentication in force for clients of ln.
func (s *Server) authFor(ln *listener) *authState {
	base := s.auth.Load()
	if ln == nil {
		return base
	}
	spec := ln.authSpec.Load()
	if !spec.overrides() {
		return base
	}
	if cur := ln.auth.Load(); cur != nil && cur.base == base && cur.spec == spec {
		return cur.st
	}
	st := compileAuth(spec.apply(s.o().Auth))
	ln.auth.Store(&listenerAuth{base: base, spec: spec, st: st})
	return st
}

// fillFromCookies sets the CONNECT fields o left empty from the cookies
// ln names, when c arrived over HTTP (WebSocket).
func (c *client) fillFromCookies(o *connectOpts) {
	if c.ln == nil {
		return
	}
	la := c.ln.authSpec.Load()
	if la == nil {
		return
	}
	hr, ok := c.nc.(interface{ Request() *http.Request })
	if !ok || hr.Request() == nil {
		return
	}
	req := hr.Request()
	fill := func(dst *string, name string) {
		if *dst != "" || name == "" {
			return
		}
		if ck, err := req.Cookie(name); err == nil {
			*dst = ck.Value
		}
	}
	fill(&o.JWT, la.JWTCookie)
	fill(&o.User, la.UserCookie)
	fill(&o.Pass, la.PassCookie)
	fill(&o.AuthToken, la.TokenCookie)
}
