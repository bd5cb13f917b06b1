package jetstream_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"

	"github.com/murmurmq/murmur/internal/testutil"
)

// targets are the brokers the key-value and object store tests run on:
// Murmur with each storage, and nats-server 2.15 as the reference the
// expectations were checked against.
var targets = []struct {
	name    string
	storage njs.StorageType
	js      func(t *testing.T) njs.JetStream
}{
	{"murmur-file", njs.FileStorage, func(t *testing.T) njs.JetStream { return startNode(t, t.TempDir()).js(t) }},
	{"murmur-memory", njs.MemoryStorage, func(t *testing.T) njs.JetStream { return startNode(t, t.TempDir()).js(t) }},
	{"nats-server", njs.FileStorage, func(t *testing.T) njs.JetStream {
		js, err := njs.New(startNatsServer(t))
		if err != nil {
			t.Fatal(err)
		}
		return js
	}},
}

// nextEntry waits for a watcher's next entry (nil is the end of the
// initial values).
func nextEntry(t *testing.T, w njs.KeyWatcher) njs.KeyValueEntry {
	t.Helper()
	select {
	case e, ok := <-w.Updates():
		if !ok {
			t.Fatal("watcher closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no watcher update within 5s")
	}
	return nil
}

// TestKeyValueBucket drives nats.go's key-value layer end to end: every
// step runs against the same bucket, in order.
func TestKeyValueBucket(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			js := tg.js(t)
			c := ctx(t)
			kv, err := js.CreateKeyValue(c, njs.KeyValueConfig{Bucket: "cfg", History: 5, Storage: tg.storage})
			if err != nil {
				t.Fatalf("create bucket: %v", err)
			}
			steps := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"put and get with revisions", func(t *testing.T) {
					for i, k := range []string{"a", "b", "c.x", "a"} {
						rev, err := kv.Put(c, k, []byte(k+"-v"))
						if err != nil || rev != uint64(i+1) {
							t.Fatalf("put %s: rev %d %v", k, rev, err)
						}
					}
					e, err := kv.Get(c, "a")
					if err != nil || e.Revision() != 4 || string(e.Value()) != "a-v" || e.Operation() != njs.KeyValuePut {
						t.Fatalf("get a: %v %v", e, err)
					}
					e, err = kv.GetRevision(c, "a", 1)
					if err != nil || e.Revision() != 1 {
						t.Fatalf("get revision 1: %v %v", e, err)
					}
				}},
				{"create and update check the revision", func(t *testing.T) {
					if _, err := kv.Create(c, "a", []byte("x")); !errors.Is(err, njs.ErrKeyExists) {
						t.Fatalf("create existing: %v", err)
					}
					if _, err := kv.Update(c, "a", []byte("x"), 1); err == nil {
						t.Fatal("update with a stale revision succeeded")
					}
					rev, err := kv.Update(c, "a", []byte("a-2"), 4)
					if err != nil || rev != 5 {
						t.Fatalf("update: %d %v", rev, err)
					}
				}},
				{"keys", func(t *testing.T) {
					keys, err := kv.Keys(c)
					slices.Sort(keys)
					if err != nil || !slices.Equal(keys, []string{"a", "b", "c.x"}) {
						t.Fatalf("keys: %v %v", keys, err)
					}
					lister, err := kv.ListKeys(c)
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for k := range lister.Keys() {
						got = append(got, k)
					}
					slices.Sort(got)
					if !slices.Equal(got, []string{"a", "b", "c.x"}) {
						t.Fatalf("list keys: %v", got)
					}
				}},
				{"history", func(t *testing.T) {
					h, err := kv.History(c, "a")
					if err != nil || len(h) != 3 {
						t.Fatalf("history: %d %v", len(h), err)
					}
					var vals []string
					for _, e := range h {
						vals = append(vals, string(e.Value()))
					}
					if !slices.Equal(vals, []string{"a-v", "a-v", "a-2"}) || h[2].Revision() != 5 {
						t.Fatalf("history values: %v", vals)
					}
				}},
				{"watch: initial values, the marker, then updates", func(t *testing.T) {
					w, err := kv.WatchAll(c)
					if err != nil {
						t.Fatal(err)
					}
					defer w.Stop()
					var initial []string
					for {
						e := nextEntry(t, w)
						if e == nil {
							break
						}
						initial = append(initial, e.Key()+"="+string(e.Value()))
					}
					if !slices.Equal(initial, []string{"b=b-v", "c.x=c.x-v", "a=a-2"}) {
						t.Fatalf("initial values: %v", initial)
					}
					if _, err := kv.Put(c, "b", []byte("live")); err != nil {
						t.Fatal(err)
					}
					if e := nextEntry(t, w); e == nil || e.Key() != "b" || string(e.Value()) != "live" || e.Revision() != 6 {
						t.Fatalf("live update: %v", e)
					}
					if err := kv.Delete(c, "b"); err != nil {
						t.Fatal(err)
					}
					if e := nextEntry(t, w); e == nil || e.Key() != "b" || e.Operation() != njs.KeyValueDelete {
						t.Fatalf("delete seen as: %v", e)
					}
				}},
				{"watch one key and updates only", func(t *testing.T) {
					w, err := kv.Watch(c, "c.*", njs.UpdatesOnly())
					if err != nil {
						t.Fatal(err)
					}
					defer w.Stop()
					if _, err := kv.Put(c, "a", []byte("not watched")); err != nil {
						t.Fatal(err)
					}
					if _, err := kv.Put(c, "c.y", []byte("new")); err != nil {
						t.Fatal(err)
					}
					if e := nextEntry(t, w); e == nil || e.Key() != "c.y" {
						t.Fatalf("update: %v", e)
					}
				}},
				{"delete and purge", func(t *testing.T) {
					if _, err := kv.Get(c, "b"); !errors.Is(err, njs.ErrKeyNotFound) {
						t.Fatalf("deleted key: %v", err)
					}
					if err := kv.Purge(c, "a"); err != nil {
						t.Fatal(err)
					}
					if _, err := kv.Get(c, "a"); !errors.Is(err, njs.ErrKeyNotFound) {
						t.Fatalf("purged key: %v", err)
					}
					h, err := kv.History(c, "a")
					if err != nil || len(h) != 1 || h[0].Operation() != njs.KeyValuePurge {
						t.Fatalf("history after purge: %v %v", h, err)
					}
					keys, err := kv.Keys(c)
					slices.Sort(keys)
					if err != nil || !slices.Equal(keys, []string{"c.x", "c.y"}) {
						t.Fatalf("keys after delete and purge: %v %v", keys, err)
					}
				}},
				{"purge deletes", func(t *testing.T) {
					if err := kv.PurgeDeletes(c, njs.DeleteMarkersOlderThan(-1)); err != nil {
						t.Fatal(err)
					}
					st, err := kv.Status(c)
					if err != nil {
						t.Fatal(err)
					}
					// Left: c.x and c.y; the markers of a and b are gone.
					if st.Values() != 2 || st.Bucket() != "cfg" || st.History() != 5 {
						t.Fatalf("status: values %d bucket %s history %d", st.Values(), st.Bucket(), st.History())
					}
				}},
			}
			for _, s := range steps {
				if !t.Run(s.name, s.run) {
					return
				}
			}
		})
	}
}

// TestKeyValueTTL: a bucket's TTL is the stream's max_age; entries go.
func TestKeyValueTTL(t *testing.T) {
	n := startNode(t, t.TempDir())
	js := n.js(t)
	c := ctx(t)
	kv, err := js.CreateKeyValue(c, njs.KeyValueConfig{Bucket: "ttl", TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(c, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(c, "k"); err != nil {
		t.Fatalf("fresh key: %v", err)
	}
	st, err := kv.Status(c)
	if err != nil || st.TTL() != 300*time.Millisecond {
		t.Fatalf("status ttl: %v %v", st, err)
	}
	testutil.Eventually(t, 5*time.Second, "the key expired", func() bool {
		_, err := kv.Get(c, "k")
		return errors.Is(err, njs.ErrKeyNotFound)
	})
}
