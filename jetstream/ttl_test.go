package jetstream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// ttlOutcome is what the per-message TTL scenario observed on one server.
type ttlOutcome struct {
	disabledCode, badCode, shortCode int    // err_code of refused publishes
	left                             uint64 // messages left in the TTL stream
	agedLeft                         uint64 // messages left in the max_age stream
	marker                           string // Nats-Marker-Reason of the KV key's last message
	markerTTL                        string // its Nats-TTL
	keyErr                           error  // kv.Get of the expired key
	markerGone                       bool   // the marker expired in turn
	updateCode                       int    // turning allow_msg_ttl off again
}

// ttlScenario publishes with Nats-TTL into streams with and without
// allow_msg_ttl, with max_age, and into a key-value bucket with
// limit-marker TTL, and waits for what should expire.
func ttlScenario(t *testing.T, nc *nats.Conn) ttlOutcome {
	t.Helper()
	js, err := njs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	var o ttlOutcome
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "NOTTL", Subjects: []string{"nottl.>"}}); err != nil {
		t.Fatal(err)
	}
	pubCode := func(subject, ttl string) int {
		m := nats.NewMsg(subject)
		m.Header.Set("Nats-TTL", ttl)
		_, err := js.PublishMsg(c, m)
		var ae *njs.APIError
		if errors.As(err, &ae) {
			return int(ae.ErrorCode)
		}
		if err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
		return 0
	}
	o.disabledCode = pubCode("nottl.a", "5s")

	s, err := js.CreateStream(c, njs.StreamConfig{Name: "TTL", Subjects: []string{"ttl.>"}, AllowMsgTTL: true})
	if err != nil {
		t.Fatal(err)
	}
	o.badCode = pubCode("ttl.bad", "abc")
	o.shortCode = pubCode("ttl.short", "500ms")
	if _, err := js.Publish(c, "ttl.short", nil, njs.WithMsgTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "ttl.plain", nil); err != nil {
		t.Fatal(err)
	}
	if pubCode("ttl.never", "never") != 0 {
		t.Fatal("never refused")
	}

	aged, err := js.CreateStream(c, njs.StreamConfig{Name: "AGED", Subjects: []string{"aged.>"}, AllowMsgTTL: true, MaxAge: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "aged.plain", nil); err != nil {
		t.Fatal(err)
	}
	if pubCode("aged.never", "never") != 0 {
		t.Fatal("never refused")
	}

	kv, err := js.CreateKeyValue(c, njs.KeyValueConfig{Bucket: "T", LimitMarkerTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(c, "k", []byte("v"), njs.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	kvs, err := js.Stream(c, "KV_T")
	if err != nil {
		t.Fatal(err)
	}

	count := func(s njs.Stream) uint64 {
		i, err := s.Info(c)
		if err != nil {
			t.Fatal(err)
		}
		return i.State.Msgs
	}
	testutil.Eventually(t, 10*time.Second, "TTL'd messages expire", func() bool {
		return count(s) == 2 && count(aged) == 1
	})
	o.left, o.agedLeft = count(s), count(aged)
	testutil.Eventually(t, 10*time.Second, "a marker replaces the expired key", func() bool {
		m, err := kvs.GetLastMsgForSubject(c, "$KV.T.k")
		if err != nil {
			return false
		}
		o.marker, o.markerTTL = m.Header.Get("Nats-Marker-Reason"), m.Header.Get("Nats-TTL")
		return o.marker != ""
	})
	_, o.keyErr = kv.Get(c, "k")
	testutil.Eventually(t, 10*time.Second, "the marker expires", func() bool {
		return count(kvs) == 0
	})
	o.markerGone = true

	_, err = js.UpdateStream(c, njs.StreamConfig{Name: "TTL", Subjects: []string{"ttl.>"}})
	var ae *njs.APIError
	if errors.As(err, &ae) {
		o.updateCode = int(ae.ErrorCode)
	}
	return o
}

// TestMessageTTLSideBySide runs the TTL scenario against nats-server 2.15
// and Murmur and expects the same, nats-server's, outcome from both.
func TestMessageTTLSideBySide(t *testing.T) {
	want := ttlOutcome{
		disabledCode: 10166, badCode: 10165, shortCode: 10165,
		left: 2, agedLeft: 1, marker: "MaxAge", markerTTL: "1s",
		keyErr: njs.ErrKeyNotFound, markerGone: true, updateCode: 10052,
	}
	for _, side := range []struct {
		name string
		nc   func(*testing.T) *nats.Conn
	}{
		{"nats-server", startNatsServer},
		{"murmur", func(t *testing.T) *nats.Conn {
			nc, err := nats.Connect(startNode(t, t.TempDir()).srv.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			return nc
		}},
	} {
		t.Run(side.name, func(t *testing.T) {
			if got := ttlScenario(t, side.nc(t)); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMessageTTLSurvivesRestart: a message's TTL still runs out after the
// broker restarts on the same store.
func TestMessageTTLSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	js := n.js(t)
	c := ctx(t)
	if _, err := js.CreateStream(c, njs.StreamConfig{Name: "TTL", Subjects: []string{"ttl.>"}, AllowMsgTTL: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "ttl.a", nil, njs.WithMsgTTL(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "ttl.b", nil); err != nil {
		t.Fatal(err)
	}
	n.stop()
	n = startNode(t, dir)
	s, err := n.js(t).Stream(c, "TTL")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the TTL'd message expires after the restart", func() bool {
		i, err := s.Info(c)
		return err == nil && i.State.Msgs == 1 && i.State.FirstSeq == 2
	})
}
