package broker

import (
	"strings"
	"testing"

	"github.com/murmurmq/murmur/pubsub"
)

// FuzzCoversShortcut checks the SUB-time shortcut against the delivery
// check it skips: when rules.covers says a subscription needs no check,
// every literal subject it matches must pass permitsSub with its queue.
// Rules are a ';'-separated list of "subject [queue]" entries, allow then
// deny.
func FuzzCoversShortcut(f *testing.F) {
	f.Add(">", "secret.>", ">", "", "secret.x")
	f.Add("foo.*", "", "foo.>", "", "foo.a.b")
	f.Add("jobs.* v1.*;jobs.>", "", "jobs.*", "v2", "jobs.a")
	f.Add("", "work.secret q1", "work.*", "q1", "work.secret")
	f.Fuzz(func(t *testing.T, allow, deny, subject, queue, literal string) {
		if !pubsub.ValidSubject(subject) || !pubsub.ValidLiteralSubject(literal) {
			return
		}
		if queue != "" && !pubsub.ValidQueueName(queue) {
			return
		}
		var r rules
		for _, spec := range []struct {
			list *[]rule
			text string
		}{{&r.allow, allow}, {&r.deny, deny}} {
			if spec.text == "" {
				continue
			}
			for _, e := range strings.Split(spec.text, ";") {
				s, q, ok := splitSubjectQueue(e)
				if !ok || (q != "" && !pubsub.ValidQueueName(q)) {
					return
				}
				*spec.list = append(*spec.list, rule{s, q})
			}
		}
		if !r.permitsSub(subject, queue) || !pubsub.SubjectMatches(subject, literal) {
			return
		}
		if r.covers(subject, queue) && !r.permitsSub(literal, queue) {
			t.Fatalf("rules %+v cover SUB %q queue %q, yet refuse delivered %q", r, subject, queue, literal)
		}
	})
}
