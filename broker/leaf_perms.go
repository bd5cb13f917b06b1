package broker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/pubsub"
)

// Leaf connection permissions, as nats-server's (server/leafnode.go):
//
// A leaf logs into its hub as a user; the user's permissions are read
// from the hub's side of the connection, with the directions swapped. What
// the user may publish is what the leaf may send into the hub; what it may
// subscribe to is what the hub sends down to the leaf. So on the hub:
//
//   - a message from the leaf on a subject the user may not publish gets
//     -ERR 'Permissions Violation for Publish to "<subject>"' and the
//     connection closes (service replies _R_.* and $JS.ACK.* excepted,
//     and replies the user may answer under allow_responses);
//   - the leaf's interest in a literal subject the user may not subscribe
//     to gets -ERR 'Permissions Violation for Subscription to "<subject>"'
//     and the connection closes; a wildcard interest is taken and each
//     message checked as it goes down;
//   - the hub tells the leaf only of interest in subjects the user may
//     publish (a wildcard one when some subject of it may be);
//   - the deny_pub of the leaf's CONNECT (its deny_imports) is added to
//     what is not sent down.
//
// The hub's INFO after the CONNECT carries the user's rules as nats-server
// sends them, "import" (the user's subscribe rules: what the leaf may take
// in) and "export" (its publish rules: what it may send), so the leaf
// filters on its side and never trips the hub. A leaf that dialed takes
// them from its hub's INFO, adds its remote's deny_imports and
// deny_exports, and then drops quietly what would be refused: no interest
// told up where nothing may come, no message sent up that may not go, no
// message taken in that may not come, and the hub's literal interest in a
// subject it may not send ignored.

// leafFilter is one direction of a leaf connection's rules: subjects that
// may pass (allow nil: all) less those denied. Queue entries of subscribe
// rules are left out, as nats-server checks a leaf without a queue.
type leafFilter struct {
	allow, deny []string
	// jsDeny are the JetStream subjects kept off the connection
	// (leaf_jetstream.go), apart from deny so that a subject not
	// beginning with '$' costs one byte's test.
	jsDeny []string
}

func (f *leafFilter) active() bool { return f.allow != nil || len(f.deny) > 0 || len(f.jsDeny) > 0 }

// admits reports whether a message on subject (a literal) may pass.
func (f *leafFilter) admits(subject string) bool {
	if f.allow != nil && !slices.ContainsFunc(f.allow, func(p string) bool { return pubsub.SubjectMatches(p, subject) }) {
		return false
	}
	if len(f.jsDeny) > 0 && strings.HasPrefix(subject, "$") && slices.ContainsFunc(f.jsDeny, func(p string) bool { return pubsub.SubjectMatches(p, subject) }) {
		return false
	}
	return !slices.ContainsFunc(f.deny, func(p string) bool { return pubsub.SubjectMatches(p, subject) })
}

// interest reports whether interest in sub (maybe with wildcards) is worth
// crossing: an allow entry holds it or lies within it, and no deny entry
// holds it all (nats-server's canSubscribe for a leaf, with ReverseMatch).
func (f *leafFilter) interest(sub string) bool {
	if f.allow != nil && !slices.ContainsFunc(f.allow, func(p string) bool {
		return pubsub.SubjectIsSubset(sub, p) || pubsub.SubjectIsSubset(p, sub)
	}) {
		return false
	}
	held := func(p string) bool { return pubsub.SubjectIsSubset(sub, p) }
	return !slices.ContainsFunc(f.deny, held) && !slices.ContainsFunc(f.jsDeny, held)
}

// filterOf makes a leafFilter of the plain entries of perm (nil: no rules)
// plus the subjects of extraDeny.
func filterOf(perm *subjectPerm, extraDeny []string) leafFilter {
	var f leafFilter
	if perm != nil {
		if perm.Allow != nil {
			f.allow = []string{}
			for _, e := range perm.Allow {
				if s, q, ok := splitSubjectQueue(e); ok && q == "" {
					f.allow = append(f.allow, s)
				}
			}
		}
		for _, e := range perm.Deny {
			if s, q, ok := splitSubjectQueue(e); ok && q == "" {
				f.deny = append(f.deny, s)
			}
		}
	}
	f.deny = append(f.deny, extraDeny...)
	return f
}

// subjectPerm is nats-server's SubjectPermission, the INFO fields import
// and export of a hub.
type subjectPerm struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// permOf lists r's entries as nats-server's SubjectPermission ("subject"
// or "subject queue"); nil when r has none.
func permOf(r *rules) *subjectPerm {
	if r.allow == nil && r.deny == nil {
		return nil
	}
	str := func(list []rule) []string {
		if list == nil {
			return nil
		}
		out := make([]string, 0, len(list))
		for _, e := range list {
			if e.queue != "" {
				out = append(out, e.subject+" "+e.queue)
			} else {
				out = append(out, e.subject)
			}
		}
		return out
	}
	return &subjectPerm{Allow: str(r.allow), Deny: str(r.deny)}
}

// setHubPerms applies the permissions p of the user a leaf logged in as
// (nil: none) and the deny_pub of its CONNECT to the hub's side of the
// connection, and returns the import and export the hub's INFO carries.
func (l *leaf) setHubPerms(p *permissions, denyPub []string) (imp, exp *subjectPerm) {
	if p != nil {
		imp, exp = permOf(&p.sub), permOf(&p.pub)
		l.resp = p.resp
	}
	l.permOut = filterOf(imp, denyPub) // down to the leaf: what the user may subscribe to
	l.permIn = filterOf(exp, nil)      // up from the leaf: what it may publish
	l.permOut.jsDeny, l.permIn.jsDeny = l.jetStreamDeny(), l.jetStreamDeny()
	return imp, exp
}

// setSpokePerms applies the hub's INFO import and export (nil: none)
// together with the remote's deny rules to the leaf's side.
func (l *leaf) setSpokePerms(imp, exp *subjectPerm, r *RemoteLeaf) {
	l.permIn = filterOf(imp, r.DenyImports)
	l.permOut = filterOf(exp, r.DenyExports)
	l.permOut.jsDeny, l.permIn.jsDeny = l.jetStreamDeny(), l.jetStreamDeny()
}

// Subjects a leaf's rules never hold back, as nats-server: interest in
// loop detection subjects and gateway replies; messages to gateway
// replies, service import replies and JetStream acks.
var (
	leafExemptInterest = [...]string{leafLDSPrefix, "$GR.", "_GR_."}
	leafExemptMsg      = [...]string{"$GR.", "_GR_.", "_R_.", "$JS.ACK."}
)

func hasAnyPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

// takeMsg reports whether a message from the peer on subject is taken. On
// the hub, one the leaf's user may not publish is a violation that closes
// the connection (err); a leaf drops what its hub's rules refuse quietly.
func (l *leaf) takeMsg(subject []byte) (bool, error) {
	if !l.permIn.active() || l.permIn.admits(string(subject)) || hasAnyPrefix(string(subject), leafExemptMsg[:]) {
		return true, nil
	}
	if l.toHub {
		return false, nil
	}
	if l.resp != nil && l.replies.use(string(subject), l.resp) {
		return true, nil
	}
	l.log.Error("leaf publish permission violation, closing (check the leaf's configuration)", zap.ByteString("subject", subject))
	return false, &closeError{text: fmt.Sprintf(proto.ErrTextPermPub, subject)}
}

// takeInterest reports whether the peer's interest in subject is taken:
// one in a literal subject that may not be sent to the peer is refused
// (on the hub as a violation that closes the connection, err).
func (l *leaf) takeInterest(subject string) (bool, error) {
	if !l.permOut.active() || pubsub.HasWildcard(subject) || hasAnyPrefix(subject, leafExemptInterest[:]) || l.permOut.admits(subject) {
		return true, nil
	}
	if l.toHub {
		return false, nil
	}
	l.log.Error("leaf subscription permission violation, closing (check the leaf's configuration)", zap.String("subject", subject))
	return false, &closeError{text: fmt.Sprintf(proto.ErrTextPermSub, subject)}
}

// sends reports whether a message on subject may go to the peer, and on
// the hub under allow_responses grants the leaf its reply.
func (l *leaf) sends(subject, reply []byte) bool {
	if l.permOut.active() && !l.permOut.admits(string(subject)) {
		return false
	}
	if l.resp != nil && len(reply) > 0 && !l.permIn.admits(string(reply)) {
		l.replies.grant(reply, time.Now(), l.resp)
	}
	return true
}
