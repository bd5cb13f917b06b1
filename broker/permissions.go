package broker

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/murmurmq/murmur/mux"
	"github.com/murmurmq/murmur/pubsub"
)

// Permissions, as nats-server applies them:
//
//   - PUB: the subject must pass the publish rules, or be the reply subject
//     of a request this client received while allow_responses is set.
//   - SUB: the subject (its wildcards taken as literal tokens) and the
//     queue must pass the subscribe rules. A rule may name a queue ("foo
//     q1"): for a queue subscription that matches such rules, the queue
//     decides; a plain subscription is only admitted by plain rules.
//   - Delivery: a wildcard subscription can match subjects its rules
//     refuse (SUB > under deny secret.>). Each wildcard subscription of a
//     user-authenticated client carries a filter that checks the delivered
//     subject as if it had been subscribed to literally, with the verdict
//     cached per subject. On its first delivery under a set of rules the
//     filter works out whether they could refuse anything the subscription
//     matches; when not, it admits without a lookup from then on.
//   - Stricter than nats-server, on purpose: allow is checked at delivery
//     too (nats-server checks only deny there), and a plain deny entry
//     refuses a queue subscription even when queue entries also match
//     (in nats-server a matching queue entry decides alone).

// permissions are a user's compiled rules.
type permissions struct {
	pub  rules
	sub  rules
	resp *ResponsePermission // nil: no allow_responses
}

// rule is one permission entry: a subject, and for subscribe rules an
// optional queue.
type rule struct{ subject, queue string }

type rules struct {
	allow, deny []rule
}

func compilePerms(p *Permissions) *permissions {
	if p == nil {
		return nil
	}
	cp := &permissions{
		pub: rules{allow: toRules(p.Publish.Allow), deny: toRules(p.Publish.Deny)},
		sub: rules{allow: toRules(p.Subscribe.Allow), deny: toRules(p.Subscribe.Deny)},
	}
	if r := p.Response; r != nil {
		rp := *r
		// nats-server: zero takes the default; below zero, no limit.
		if rp.MaxMsgs == 0 {
			rp.MaxMsgs = DefaultResponseMaxMsgs
		}
		if rp.Expires == 0 {
			rp.Expires = DefaultResponseExpires
		}
		cp.resp = &rp
		if p.Publish.Allow == nil {
			// nats-server: allow_responses without a publish allow list
			// allows responses only (an empty allow list admits nothing).
			cp.pub.allow = []rule{}
		}
	}
	return cp
}

func toRules(entries []string) []rule {
	if entries == nil {
		return nil
	}
	out := make([]rule, 0, len(entries))
	for _, e := range entries {
		subject, queue, _ := splitSubjectQueue(e)
		out = append(out, rule{subject, queue})
	}
	return out
}

// splitSubjectQueue splits a subscribe permission "subject [queue]"; ok is
// false for more than two fields or an invalid subject.
func splitSubjectQueue(e string) (subject, queue string, ok bool) {
	f := strings.Fields(e)
	switch len(f) {
	case 1:
		subject = f[0]
	case 2:
		subject, queue = f[0], f[1]
	default:
		return "", "", false
	}
	return subject, queue, pubsub.ValidSubject(subject)
}

// permitsPub reports whether a publish to subject passes the rules.
func (r *rules) permitsPub(subject string) bool {
	if r.allow != nil && !r.anyMatch(r.allow, subject) {
		return false
	}
	return !r.anyMatch(r.deny, subject)
}

func (r *rules) anyMatch(list []rule, subject string) bool {
	for _, e := range list {
		if pubsub.SubjectMatches(e.subject, subject) {
			return true
		}
	}
	return false
}

// permitsSub reports whether a subscription to subject (wildcards taken as
// literal tokens) with queue ("" for none) passes the rules
// (nats-server canSubscribe).
func (r *rules) permitsSub(subject, queue string) bool {
	if r.allow != nil {
		plain, queued, queueOK := r.matchSub(r.allow, subject, queue)
		ok := plain
		if queue != "" && queued {
			ok = queueOK
		}
		if !ok {
			return false
		}
	}
	if r.deny != nil {
		plain, queued, queueHit := r.matchSub(r.deny, subject, queue)
		if plain || (queue != "" && queued && queueHit) {
			return false
		}
	}
	return true
}

// matchSub matches subject against list: whether a plain entry matched,
// whether a queue entry matched, and whether one of those named queue.
func (r *rules) matchSub(list []rule, subject, queue string) (plain, queued, queueHit bool) {
	for _, e := range list {
		if !pubsub.SubjectMatches(e.subject, subject) {
			continue
		}
		if e.queue == "" {
			plain = true
			continue
		}
		queued = true
		if queue != "" && queueMatches(queue, e.queue) {
			queueHit = true
		}
	}
	return plain, queued, queueHit
}

// queueMatches: a queue rule names the queue itself or, with wildcards, a
// set of queue names ("v1.*" admits "v1.a"), as nats-server.
func queueMatches(queue, pattern string) bool {
	if queue == pattern {
		return true
	}
	return pubsub.HasWildcard(pattern) && pubsub.ValidSubject(queue) && pubsub.SubjectIsSubset(queue, pattern)
}

// covers reports whether every subject a subscription to subject/queue can
// receive passes the rules, so delivery needs no check. It may say false
// when a check would admit everything anyway: it is a shortcut, not a
// verdict.
func (r *rules) covers(subject, queue string) bool {
	if r.allow != nil {
		inPlain := false
		for _, e := range r.allow {
			switch {
			case e.queue == "":
				inPlain = inPlain || pubsub.SubjectIsSubset(subject, e.subject)
			case queue != "" && !queueMatches(queue, e.queue) && pubsub.SubjectsCollide(subject, e.subject):
				return false // some subjects are reserved for other queues
			}
		}
		if !inPlain {
			return false
		}
	}
	for _, e := range r.deny {
		if (e.queue == "" || queue != "" && queueMatches(queue, e.queue)) && pubsub.SubjectsCollide(subject, e.subject) {
			return false
		}
	}
	return true
}

// pubCacheMax bounds a client's cache of publish permission decisions.
const pubCacheMax = 1024

// canPublish checks (and caches, per client) a publish subject against the
// client's permissions; a reply to a request the client received passes
// under allow_responses. Reader goroutine only.
func (c *client) canPublish(subject []byte) bool {
	p := c.perms.Load()
	if p == nil {
		return true
	}
	if c.pubCachePerms != p {
		c.pubCache, c.pubCachePerms = make(map[string]bool), p
	}
	ok, hit := c.pubCache[string(subject)]
	if !hit {
		ok = p.pub.permitsPub(string(subject))
		if len(c.pubCache) >= pubCacheMax {
			clear(c.pubCache)
		}
		c.pubCache[string(subject)] = ok
	}
	if !ok && p.resp != nil {
		return c.replies.use(string(subject), p.resp)
	}
	return ok
}

func (c *client) canSubscribe(subject, queue string) bool {
	p := c.perms.Load()
	return p == nil || p.sub.permitsSub(subject, queue)
}

// subFilter is the delivery-time check of one wildcard subscription of an
// authenticated client (mux.Filter). It is installed whenever auth is on,
// so a reload that gives the client narrower permissions is enforced on
// the subscriptions it already has.
type subFilter struct {
	c     *client
	state atomic.Pointer[filterState]
}

// filterState is what the filter worked out for one set of permissions.
type filterState struct {
	perms *permissions
	check bool // some delivered subjects may be refused
}

func (f *subFilter) Admit(s *mux.Sub, m *mux.Msg) bool {
	c := f.c
	p := c.perms.Load()
	if p == nil {
		return true
	}
	st := f.state.Load()
	if st == nil || st.perms != p {
		st = &filterState{perms: p, check: !p.sub.covers(s.Subject, s.Queue)}
		f.state.Store(st)
	}
	return !st.check || c.verdicts.permits(p, m.Subject, s.Queue)
}

// verdictCacheMax bounds a client's cache of delivery verdicts.
const verdictCacheMax = 1024

// verdictCache remembers, per delivered subject (and queue), whether the
// client's subscribe rules admit it. Publishers on many goroutines share it.
type verdictCache struct {
	mu    sync.Mutex
	perms *permissions
	m     map[string]bool
}

func (vc *verdictCache) permits(p *permissions, subject []byte, queue string) bool {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.perms != p {
		vc.perms, vc.m = p, make(map[string]bool)
	}
	var ok, hit bool
	if queue == "" {
		ok, hit = vc.m[string(subject)]
	} else {
		ok, hit = vc.m[queue+" "+string(subject)]
	}
	if hit {
		return ok
	}
	ok = p.sub.permitsSub(string(subject), queue)
	if len(vc.m) >= verdictCacheMax {
		clear(vc.m)
	}
	if queue == "" {
		vc.m[string(subject)] = ok
	} else {
		vc.m[queue+" "+string(subject)] = ok
	}
	return ok
}

// maxTrackedReplies bounds the reply subjects one client may answer; past
// it, expired ones are pruned and then the oldest dropped.
const maxTrackedReplies = 4096

// replyPerms tracks the reply subjects of requests delivered to a client
// whose permissions allow responses.
type replyPerms struct {
	mu sync.Mutex
	m  map[string]*replyGrant
}

type replyGrant struct {
	at   time.Time
	used int
}

// grant records a reply subject the client may publish to.
func (rp *replyPerms) grant(reply []byte, now time.Time, resp *ResponsePermission) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.m == nil {
		rp.m = make(map[string]*replyGrant)
	}
	if _, ok := rp.m[string(reply)]; ok {
		return
	}
	if len(rp.m) >= maxTrackedReplies {
		rp.pruneLocked(now, resp)
	}
	rp.m[string(reply)] = &replyGrant{at: now}
}

func (rp *replyPerms) pruneLocked(now time.Time, resp *ResponsePermission) {
	var oldest string
	var oldestAt time.Time
	for k, g := range rp.m {
		if resp.Expires > 0 && now.Sub(g.at) > resp.Expires {
			delete(rp.m, k)
			continue
		}
		if oldest == "" || g.at.Before(oldestAt) {
			oldest, oldestAt = k, g.at
		}
	}
	if len(rp.m) >= maxTrackedReplies {
		delete(rp.m, oldest)
	}
}

// use reports whether subject is a reply the client may still send, and
// counts the use.
func (rp *replyPerms) use(subject string, resp *ResponsePermission) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	g := rp.m[subject]
	if g == nil {
		return false
	}
	if resp.Expires > 0 && time.Since(g.at) > resp.Expires {
		delete(rp.m, subject)
		return false
	}
	g.used++
	if resp.MaxMsgs > 0 && g.used >= resp.MaxMsgs {
		delete(rp.m, subject)
	}
	return true
}
