package monitor

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Auth guards the monitoring endpoints: HTTP basic authentication with
// User and Password, a bearer token (Authorization: Bearer <Token>), or
// either when both are set. It is Murmur's own (nats-server's monitor has
// no authentication). /healthz stays open so that load balancers and
// Kubernetes probes need no credentials; it tells no more than whether
// the broker serves clients and how many cluster members are down.
//
// Auth is also used by the profiling listener (cmd/broker), which is why
// Allow takes the raw header rather than a request type.
type Auth struct {
	// User and Password are the basic-auth credentials. Password may be
	// a bcrypt hash ("$2a$..."), as nats-server's user passwords.
	User, Password string
	// Token is the bearer token.
	Token string
}

// enabled reports whether a is set at all; a nil or empty Auth admits
// everyone.
func (a *Auth) enabled() bool {
	return a != nil && (a.User != "" || a.Token != "")
}

// validate checks that each credential is complete.
func (a *Auth) validate() error {
	switch {
	case a == nil:
		return nil
	case a.User != "" && a.Password == "":
		return errors.New("monitor auth: user set without a password")
	case a.User == "" && a.Password != "":
		return errors.New("monitor auth: password set without a user")
	}
	return nil
}

// Allow reports whether the Authorization header value authorization
// carries the configured credentials. It always admits when a has none.
// The comparisons take the same time whatever the bytes.
func (a *Auth) Allow(authorization string) bool {
	if !a.enabled() {
		return true
	}
	scheme, cred, _ := strings.Cut(authorization, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer") && a.Token != "":
		return subtle.ConstantTimeCompare([]byte(cred), []byte(a.Token)) == 1
	case strings.EqualFold(scheme, "Basic") && a.User != "":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(a.User)) != 1 {
			return false
		}
		if strings.HasPrefix(a.Password, "$2") {
			return bcrypt.CompareHashAndPassword([]byte(a.Password), []byte(pass)) == nil
		}
		return subtle.ConstantTimeCompare([]byte(pass), []byte(a.Password)) == 1
	}
	return false
}

// Challenge is the WWW-Authenticate value of a refusal: Basic when a user
// is configured (browsers then ask for it), else Bearer.
func (a *Auth) Challenge() string {
	if a.User != "" {
		return `Basic realm="murmur monitor", charset="UTF-8"`
	}
	return `Bearer realm="murmur monitor"`
}

// openPath reports whether path is served without credentials.
func openPath(path string) bool { return path == pathHealthz }
