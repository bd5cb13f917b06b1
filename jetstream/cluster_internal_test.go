package jetstream

import (
	"slices"
	"strings"
	"testing"
)

// apiScope decides where a request goes: the owner of the stream it
// names, every broker, or the local engine.
func TestAPIScope(t *testing.T) {
	for _, c := range []struct {
		op      string
		stream  string
		account bool
	}{
		{"INFO", "", true},
		{"STREAM.NAMES", "", true},
		{"STREAM.LIST", "", true},
		{"STREAM.CREATE.S", "S", false},
		{"STREAM.UPDATE.S", "S", false},
		{"STREAM.INFO.S", "S", false},
		{"STREAM.DELETE.S", "S", false},
		{"STREAM.PURGE.S", "S", false},
		{"STREAM.MSG.GET.S", "S", false},
		{"STREAM.MSG.DELETE.S", "S", false},
		{"STREAM.LEADER.STEPDOWN.S", "S", false},
		{"DIRECT.GET.S", "S", false},
		{"DIRECT.GET.S.a.b", "S", false},
		{"CONSUMER.CREATE.S", "S", false},
		{"CONSUMER.CREATE.S.C.f.>", "S", false},
		{"CONSUMER.DURABLE.CREATE.S.C", "S", false},
		{"CONSUMER.INFO.S.C", "S", false},
		{"CONSUMER.DELETE.S.C", "S", false},
		{"CONSUMER.NAMES.S", "S", false},
		{"CONSUMER.LIST.S", "S", false},
		{"CONSUMER.MSG.NEXT.S.C", "S", false},
		{"CONSUMER.PAUSE.S.C", "S", false},
		{"ACCOUNT.PURGE.X", "", false},
		{"INFO.X", "", false},
		{"STREAM.NAMES.X", "", false}, // not the names request: the local engine refuses it
		{"", "", false},
	} {
		s, acc := apiScope(c.op)
		if s != c.stream || acc != c.account {
			t.Errorf("apiScope(%q) = %q %v, want %q %v", c.op, s, acc, c.stream, c.account)
		}
	}
}

// accountToken names an account in one subject token, and two accounts
// never share one.
func TestAccountToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"A", "A"},
		{"$G", "$G"},
		{"ACDE2UQ4XIO4HHW3HAFZ5FJRAIY7QVYAEJRE4HOP7RFY4XC5XI5LKMQB", "ACDE2UQ4XIO4HHW3HAFZ5FJRAIY7QVYAEJRE4HOP7RFY4XC5XI5LKMQB"},
	} {
		if got := accountToken(c.in); got != c.want {
			t.Errorf("accountToken(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	seen := map[string]string{}
	for _, in := range []string{"a.b", "a b", "a*", "a>", "", "%x", "a.c"} {
		got := accountToken(in)
		if got[0] != '%' || strings.ContainsAny(got, ".*> ") {
			t.Errorf("accountToken(%q) = %q, want %%<hash>", in, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("accountToken(%q) = accountToken(%q) = %q", in, prev, got)
		}
		seen[got] = in
	}
}

// recordConn records what is published through it, one batch or one
// message at a time.
type recordConn struct{ subjects []string }

func (r *recordConn) Subscribe(string) (int, error) { return 0, nil }
func (r *recordConn) Unsubscribe(int)               {}
func (r *recordConn) HasInterest(string) bool       { return false }
func (r *recordConn) Publish(subject, _, _ string, _, _ []byte) {
	r.subjects = append(r.subjects, subject)
}
func (r *recordConn) PublishEach(n int, msg func(i int) (string, string, string, []byte, []byte)) {
	for i := range n {
		s, _, _, _, _ := msg(i)
		r.subjects = append(r.subjects, s)
	}
}

// The answers to held creates, updates and deletes never reach the
// broker: the engine's connection hands them to the Cluster, alone or
// in a batch, and publishes the rest in order.
func TestClusterHeldAnswers(t *testing.T) {
	c := NewCluster(New(Config{}, "A", nil), ClusterConfig{ServerID: "S1"}, nil)
	rec := &recordConn{}
	conn := c.Wrap(rec).(BatchConn)
	held := c.holdAnswer("_INBOX.client")
	if !strings.HasPrefix(held, "$MJSC.A.S1.R.") {
		t.Fatalf("held reply %q", held)
	}
	conn.Publish(held, "", "", nil, []byte("one"))
	batch := []string{"a", held, "b", "c", held}
	conn.PublishEach(len(batch), func(i int) (string, string, string, []byte, []byte) {
		return batch[i], "", "", nil, []byte(batch[i])
	})
	conn.PublishEach(2, func(i int) (string, string, string, []byte, []byte) { return "d", "", "", nil, nil })
	if want := []string{"a", "b", "c", "d", "d"}; !slices.Equal(rec.subjects, want) {
		t.Fatalf("published %v, want %v", rec.subjects, want)
	}
	var got []string
	for _, m := range c.in.take() {
		if m.sub != heldAnswerSub || m.subject != held {
			t.Fatalf("queued %d %q", m.sub, m.subject)
		}
		got = append(got, string(m.data))
	}
	if want := []string{"one", held, held}; !slices.Equal(got, want) {
		t.Fatalf("held answers %v, want %v", got, want)
	}
	if c.isHeld("$MJSC.A.S1.R.") || c.isHeld("$MJSC.A.S2.R.1") || c.isHeld("$MJSC.A.S1.G.1") {
		t.Fatal("isHeld too wide")
	}
}
