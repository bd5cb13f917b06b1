package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// describe renders a message's subject, data and headers (without the
// time stamps, which differ between servers).
func describe(subject string, h nats.Header, data []byte) string {
	var keys []string
	for k := range h {
		v := strings.Join(h[k], ",")
		if k == "Nats-Stream-Source" {
			// The last word is the origin's identity, a hash of its
			// creation time: different on each server.
			if i := strings.LastIndexByte(v, ' '); i > 0 && len(v)-i-1 == 8 {
				v = v[:i] + " <identity>"
			}
		}
		if k != "Nats-Time-Stamp" {
			keys = append(keys, k+"="+v)
		}
	}
	sort.Strings(keys)
	return subject + " " + string(data) + " {" + strings.Join(keys, " ") + "}"
}

// streamMsgs renders every message of a stream, sorted when unordered
// (sources interleave as they arrive).
func streamMsgs(ctx context.Context, js njs.JetStream, name string, sorted bool) string {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return err.Error()
	}
	st := s.CachedInfo().State
	var out []string
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, njs.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return err.Error()
		}
		d := describe(m.Subject, m.Header, m.Data)
		if !sorted {
			d = fmt.Sprint(m.Sequence) + ":" + d
		}
		out = append(out, d)
	}
	if sorted {
		sort.Strings(out)
	}
	return strings.Join(out, "; ")
}

// waitMsgs waits until the stream holds n messages.
func waitMsgs(t *testing.T, ctx context.Context, js njs.JetStream, name string, n uint64) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%s holds %d messages", name, n), func() bool {
		s, err := js.Stream(ctx, name)
		return err == nil && s.CachedInfo().State.Msgs == n
	})
}

// TestMirrorSideBySide: a mirror keeps its origin's sequences, gaps,
// subjects and headers; filter_subject, opt_start_seq and
// subject_transforms narrow and map it; live messages follow. Compared
// with nats-server.
func TestMirrorSideBySide(t *testing.T) {
	sideBySide(t, func(r *recorder, nc *nats.Conn, js njs.JetStream) {
		c := longCtx(t)
		o, err := js.CreateStream(c, njs.StreamConfig{Name: "O", Subjects: []string{"o.>"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"o.a", "o.b", "o.c", "o.a", "o.d"} {
			m := nats.NewMsg(s)
			m.Data = []byte("d-" + s)
			m.Header.Set("X-Origin", s)
			if _, err := js.PublishMsg(c, m); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.DeleteMsg(c, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "M", Mirror: &njs.StreamSource{Name: "O"}}); err != nil {
			t.Fatal(err)
		}
		waitMsgs(t, c, js, "M", 4)
		r.see("mirror caught up", func() string { return streamState(c, js, "M") + " | " + streamMsgs(c, js, "M", false) })
		publish(t, c, js, "o.e", "o.a")
		waitMsgs(t, c, js, "M", 6)
		r.see("mirror follows", func() string { return streamState(c, js, "M") + " | " + streamMsgs(c, js, "M", false) })
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "MF", Mirror: &njs.StreamSource{Name: "O", FilterSubject: "o.a", OptStartSeq: 2}}); err != nil {
			t.Fatal(err)
		}
		waitMsgs(t, c, js, "MF", 2)
		r.see("filtered mirror", func() string { return streamState(c, js, "MF") + " | " + streamMsgs(c, js, "MF", false) })
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "MT", Mirror: &njs.StreamSource{Name: "O", SubjectTransforms: []njs.SubjectTransformConfig{{Source: "o.a", Destination: "t.a"}, {Source: "o.e", Destination: "t.e"}}}}); err != nil {
			t.Fatal(err)
		}
		waitMsgs(t, c, js, "MT", 4)
		r.see("transformed mirror", func() string { return streamState(c, js, "MT") + " | " + streamMsgs(c, js, "MT", false) })
		r.see("mirror info", func() string {
			s, err := js.Stream(c, "MT")
			if err != nil || s.CachedInfo().Mirror == nil {
				return fmt.Sprint(err)
			}
			mi := s.CachedInfo().Mirror
			return fmt.Sprintf("%s lag=%d transforms=%v mirror_direct=%v", mi.Name, mi.Lag, mi.SubjectTransforms, s.CachedInfo().Config.MirrorDirect)
		})
	})
}

// TestSourcesSideBySide: a stream that sources two others, one by
// filter and one by transform, holds their messages under new
// sequences with the Nats-Stream-Source header, and follows them.
func TestSourcesSideBySide(t *testing.T) {
	sideBySide(t, func(r *recorder, nc *nats.Conn, js njs.JetStream) {
		c := longCtx(t)
		for _, sc := range []njs.StreamConfig{{Name: "O1", Subjects: []string{"o.>"}}, {Name: "O2", Subjects: []string{"p.>"}}} {
			if _, err := js.CreateStream(c, sc); err != nil {
				t.Fatal(err)
			}
		}
		publish(t, c, js, "o.a", "o.b", "p.x", "o.a", "p.y")
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "A", Subjects: []string{"a.>"}, Sources: []*njs.StreamSource{
			{Name: "O1", FilterSubject: "o.a"},
			{Name: "O2", SubjectTransforms: []njs.SubjectTransformConfig{{Source: "p.*", Destination: "agg.$1"}}},
		}}); err != nil {
			t.Fatal(err)
		}
		waitMsgs(t, c, js, "A", 4)
		r.see("backfilled", func() string { return streamMsgs(c, js, "A", true) })
		publish(t, c, js, "o.a", "p.z", "o.c", "a.own")
		waitMsgs(t, c, js, "A", 7)
		r.see("live", func() string { return streamMsgs(c, js, "A", true) })
		r.see("sources info", func() string {
			s, err := js.Stream(c, "A")
			if err != nil {
				return err.Error()
			}
			var out []string
			for _, si := range s.CachedInfo().Sources {
				out = append(out, fmt.Sprintf("%s filter=%q transforms=%v lag=%d", si.Name, si.FilterSubject, si.SubjectTransforms, si.Lag))
			}
			sort.Strings(out)
			return strings.Join(out, "; ")
		})
	})
}

// TestTransformRepublishSideBySide: a stream's subject_transform maps
// subjects before they are stored; republish sends each stored message
// on with nats-server's headers, or only its headers.
func TestTransformRepublishSideBySide(t *testing.T) {
	sideBySide(t, func(r *recorder, nc *nats.Conn, js njs.JetStream) {
		c := longCtx(t)
		sub, err := nc.SubscribeSync("rp.>")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "T", Subjects: []string{"t.*"},
			SubjectTransform: &njs.SubjectTransformConfig{Source: "t.*", Destination: "u.$1"},
			RePublish:        &njs.RePublish{Source: "u.*", Destination: "rp.full.$1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateStream(c, njs.StreamConfig{Name: "H", Subjects: []string{"h.>"},
			RePublish: &njs.RePublish{Destination: "rp.hdrs.>", HeadersOnly: true}}); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"t.a", "t.b", "t.a", "h.x.y"} {
			m := nats.NewMsg(s)
			m.Data = []byte("body-" + s)
			m.Header.Set("X-Mine", "1")
			if _, err := js.PublishMsg(c, m); err != nil {
				t.Fatal(err)
			}
		}
		r.see("stored under", func() string { return streamMsgs(c, js, "T", false) })
		var got []string
		for i := 0; i < 4; i++ {
			m, err := sub.NextMsg(3 * time.Second)
			if err != nil {
				t.Fatalf("republished %d: %v", i, err)
			}
			if _, err := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp")); err != nil {
				t.Errorf("Nats-Time-Stamp %q: %v", m.Header.Get("Nats-Time-Stamp"), err)
			}
			got = append(got, describe(m.Subject, m.Header, m.Data))
		}
		r.see("republished", func() string { return strings.Join(got, "; ") })
	})
}

// TestSourcesRestart: after a restart a mirror and a source take up
// where they left off: nothing twice, nothing lost, live again.
func TestSourcesRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	js := n.js(t)
	c := longCtx(t)
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "O", Subjects: []string{"o.>"}}); err != nil {
		t.Fatal(err)
	}
	publish(t, c, js, "o.a", "o.b", "o.a")
	for _, sc := range []njs.StreamConfig{
		{Name: "M", Mirror: &njs.StreamSource{Name: "O"}},
		{Name: "S", Sources: []*njs.StreamSource{{Name: "O", FilterSubject: "o.a"}}},
		{Name: "SS", Sources: []*njs.StreamSource{{Name: "S"}}}, // a chain
	} {
		if _, err := js.CreateStream(c, sc); err != nil {
			t.Fatal(err)
		}
	}
	waitMsgs(t, c, js, "M", 3)
	waitMsgs(t, c, js, "S", 2)
	waitMsgs(t, c, js, "SS", 2)
	// The restart comes before the second's saved positions are written
	// for the last messages: the headers must carry it.
	publish(t, c, js, "o.a")
	waitMsgs(t, c, js, "SS", 3)
	n.stop()
	n = startNode(t, dir)
	js = n.js(t)
	for name, want := range map[string]uint64{"M": 4, "S": 3, "SS": 3} {
		if got := streamState(c, js, name); !strings.HasPrefix(got, fmt.Sprintf("msgs=%d ", want)) {
			t.Errorf("%s after restart: %s, want %d messages", name, got, want)
		}
	}
	publish(t, c, js, "o.a", "o.c")
	waitMsgs(t, c, js, "M", 6)
	waitMsgs(t, c, js, "S", 4)
	waitMsgs(t, c, js, "SS", 4)
	if got := streamState(c, js, "M"); got != "msgs=6 first=1 last=6 deleted=0 consumers=0" {
		t.Errorf("mirror: %s", got)
	}
	s, _ := js.Stream(c, "SS")
	m, err := s.GetMsg(c, 4)
	if err != nil || !strings.HasPrefix(m.Header.Get("Nats-Stream-Source"), "S 4 > > o.a ") {
		t.Errorf("last of the chain: %+v %v", m, err)
	}

	// A source added by an update takes what the origin holds.
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "LATE", Subjects: []string{"late"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateStream(c, njs.StreamConfig{Name: "LATE", Subjects: []string{"late"}, Sources: []*njs.StreamSource{{Name: "O", FilterSubject: "o.c"}}}); err != nil {
		t.Fatal(err)
	}
	waitMsgs(t, c, js, "LATE", 1)
	// A source whose origin does not exist yet takes it once it does.
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "EARLY", Sources: []*njs.StreamSource{{Name: "NEW"}}}); err != nil {
		t.Fatal(err)
	}
	if s, err := js.Stream(c, "EARLY"); err != nil || len(s.CachedInfo().Sources) != 1 || s.CachedInfo().Sources[0].Error == nil {
		t.Errorf("source of a missing origin: %+v %v", s.CachedInfo().Sources, err)
	}
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "NEW", Subjects: []string{"new"}}); err != nil {
		t.Fatal(err)
	}
	publish(t, c, js, "new", "new")
	waitMsgs(t, c, js, "EARLY", 2)
}

// TestMirrorRefusesExternal: an origin in another domain is refused
// with a clear error (nats-server would reach across; Murmur's engine
// owns only its account's streams).
func TestMirrorRefusesExternal(t *testing.T) {
	n := startNode(t, t.TempDir())
	js := n.js(t)
	c := longCtx(t)
	_, err := js.CreateStream(c, njs.StreamConfig{Name: "X", Mirror: &njs.StreamSource{Name: "O", Domain: "hub"}})
	var ae *njs.APIError
	if !errors.As(err, &ae) || ae.ErrorCode != 10052 || !strings.Contains(ae.Description, "external") {
		t.Fatalf("external mirror: %v", err)
	}
}

// TestSourcesRoundTrip: two streams that source each other (accepted
// when a filter keeps the subjects apart, as nats-server accepts it) do
// not take their own messages back.
func TestSourcesRoundTrip(t *testing.T) {
	n := startNode(t, t.TempDir())
	js := n.js(t)
	c := longCtx(t)
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "I", Subjects: []string{"i.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Sources: []*njs.StreamSource{{Name: "I", FilterSubject: "i.a"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateStream(c, njs.StreamConfig{Name: "I", Subjects: []string{"i.>"}, Sources: []*njs.StreamSource{{Name: "S"}}}); err != nil {
		t.Fatal(err)
	}
	// Sourcing is done within the step that stores the message, so once
	// the PubAcks are in, both streams are complete.
	publish(t, c, js, "i.a", "s.x")
	for name, want := range map[string]string{"I": "msgs=2 ", "S": "msgs=2 "} {
		if got := streamState(c, js, name); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}
