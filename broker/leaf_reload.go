package broker

import (
	"maps"
	"reflect"
	"slices"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
)

// Leaf logins after a configuration reload. A hub checks the login of
// every leaf it accepted again, as nats-server's reloadAuthorization does
// for its leaf connections:
//
//   - credentials that no longer pass close the connection with
//     -ERR 'Authorization Violation' and a CLIENT.AUTH.ERR event;
//   - a user moved to another account closes it the same way;
//   - a user whose permissions changed is closed without an error: the
//     leaf reconnects and logs in with the new ones. nats-server applies
//     new permissions to the live connection instead, but the import and
//     export its INFO gave the leaf stay as they were, so a leaf filtering
//     by them (both brokers' leaves do) keeps sending what is now refused
//     (and is closed for it) or holding back what is now allowed. A new
//     login gives both sides the same rules.
//
// Logins the auth callout decided are not asked again (as clients'), and
// a leafnodes authorization block cannot change without a restart.

// leafLogin is what a hub keeps of a leaf's login to check it again.
type leafLogin struct {
	connect  leafConnect
	nonce    []byte
	callout  bool         // the auth callout decided
	imp, exp *subjectPerm // the rules the INFO after CONNECT gave
}

// leafsReauth checks the logins of the leaves this hub accepted against
// the reloaded authentication and returns how many it closed.
func (s *Server) leafsReauth() int {
	if s.leafs.auth != nil {
		return 0
	}
	st := s.authFor(nil)
	s.mu.Lock()
	ls := slices.Collect(maps.Values(s.leafs.conns))
	s.mu.Unlock()
	closed := 0
	for _, l := range ls {
		if l.toHub || l.login == nil || l.login.callout {
			continue
		}
		if !l.reauth(st) {
			closed++
		}
	}
	return closed
}

// reauth checks l's login against st (nil: no authentication) and closes
// l when it no longer stands as it was; it reports whether l stays.
func (l *leaf) reauth(st *authState) bool {
	s, in := l.srv, l.login
	var u *userEntry
	if st != nil {
		co := in.connect.connectOpts()
		var err error
		if u, err = st.check(&co, in.nonce, l.nc.RemoteAddr()); err != nil {
			l.revoke("credentials revoked by reload: " + err.Error())
			return false
		}
	}
	acc, err := s.leafAccount(u, l.nc)
	if err != nil || acc != l.acc {
		l.revoke("user moved to another account by reload")
		return false
	}
	var imp, exp *subjectPerm
	if p := u.permsOrNil(); p != nil {
		imp, exp = permOf(&p.sub), permOf(&p.pub)
	}
	if !reflect.DeepEqual(imp, in.imp) || !reflect.DeepEqual(exp, in.exp) {
		l.log.Info("leaf node permissions changed by reload, closing: the leaf reconnects with the new ones")
		l.close(PermissionsReloaded)
		return false
	}
	return true
}

// revoke closes l for a login that no longer passes.
func (l *leaf) revoke(why string) {
	s := l.srv
	s.stats.authFailures.Add(1)
	l.log.Info("leaf node login refused after reload, closing", zap.String("why", why))
	l.closeWithErr(proto.ErrTextAuthViolation, AuthenticationViolation)
	s.leafAuthFailed(l.cid, l.nc, &l.login.connect, l.start)
}
