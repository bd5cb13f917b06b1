package jetstream_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	njs "github.com/nats-io/nats.go/jetstream"
)

// nextObject waits for an object watcher's next update (nil is the end
// of the initial values).
func nextObject(t *testing.T, w njs.ObjectWatcher) *njs.ObjectInfo {
	t.Helper()
	select {
	case o, ok := <-w.Updates():
		if !ok {
			t.Fatal("watcher closed")
		}
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no object watcher update within 5s")
	}
	return nil
}

// TestObjectStore drives nats.go's object store end to end on each
// target: a 1 MiB object in 128 KiB chunks written, read back and
// compared by digest, then info, list, links, watch, delete, status.
func TestObjectStore(t *testing.T) {
	blob := make([]byte, 1<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range blob {
		blob[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(blob)
	digest := "SHA-256=" + base64.URLEncoding.EncodeToString(sum[:])

	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			js := tg.js(t)
			c := ctx(t)
			obs, err := js.CreateObjectStore(c, njs.ObjectStoreConfig{Bucket: "files", Storage: tg.storage})
			if err != nil {
				t.Fatalf("create bucket: %v", err)
			}
			other, err := js.CreateObjectStore(c, njs.ObjectStoreConfig{Bucket: "other", Storage: tg.storage})
			if err != nil {
				t.Fatalf("create second bucket: %v", err)
			}
			steps := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"put many chunks", func(t *testing.T) {
					info, err := obs.Put(c, njs.ObjectMeta{Name: "big.bin", Opts: &njs.ObjectMetaOptions{ChunkSize: 128 << 10}}, bytes.NewReader(blob))
					if err != nil {
						t.Fatalf("put: %v", err)
					}
					if info.Size != uint64(len(blob)) || info.Chunks != 9 || info.Digest != digest {
						t.Fatalf("put info: size %d chunks %d digest %s", info.Size, info.Chunks, info.Digest)
					}
					if _, err := obs.PutString(c, "small.txt", "hello"); err != nil {
						t.Fatal(err)
					}
				}},
				{"get reads back the same bytes", func(t *testing.T) {
					res, err := obs.Get(c, "big.bin")
					if err != nil {
						t.Fatalf("get: %v", err)
					}
					got, err := io.ReadAll(res)
					res.Close()
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if !bytes.Equal(got, blob) {
						t.Fatalf("read %d bytes, not the %d put", len(got), len(blob))
					}
					if s, err := obs.GetString(c, "small.txt"); err != nil || s != "hello" {
						t.Fatalf("small: %q %v", s, err)
					}
				}},
				{"info and list", func(t *testing.T) {
					info, err := obs.GetInfo(c, "big.bin")
					if err != nil || info.Digest != digest || info.Bucket != "files" {
						t.Fatalf("info: %+v %v", info, err)
					}
					list, err := obs.List(c)
					if err != nil {
						t.Fatal(err)
					}
					var names []string
					for _, o := range list {
						names = append(names, o.Name)
					}
					slices.Sort(names)
					if !slices.Equal(names, []string{"big.bin", "small.txt"}) {
						t.Fatalf("list: %v", names)
					}
				}},
				{"links", func(t *testing.T) {
					info, err := obs.GetInfo(c, "small.txt")
					if err != nil {
						t.Fatal(err)
					}
					if _, err := other.AddLink(c, "link.txt", info); err != nil {
						t.Fatalf("add link: %v", err)
					}
					if s, err := other.GetString(c, "link.txt"); err != nil || s != "hello" {
						t.Fatalf("get through link: %q %v", s, err)
					}
					if _, err := other.AddBucketLink(c, "to-files", obs); err != nil {
						t.Fatalf("add bucket link: %v", err)
					}
					bl, err := other.GetInfo(c, "to-files")
					if err != nil || bl.Opts == nil || bl.Opts.Link == nil || bl.Opts.Link.Bucket != "files" || bl.Opts.Link.Name != "" {
						t.Fatalf("bucket link: %+v %v", bl, err)
					}
				}},
				{"watch, then delete", func(t *testing.T) {
					w, err := obs.Watch(c)
					if err != nil {
						t.Fatal(err)
					}
					defer w.Stop()
					var initial []string
					for {
						o := nextObject(t, w)
						if o == nil {
							break
						}
						initial = append(initial, o.Name)
					}
					slices.Sort(initial)
					if !slices.Equal(initial, []string{"big.bin", "small.txt"}) {
						t.Fatalf("initial: %v", initial)
					}
					if err := obs.Delete(c, "big.bin"); err != nil {
						t.Fatalf("delete: %v", err)
					}
					if o := nextObject(t, w); o == nil || o.Name != "big.bin" || !o.Deleted {
						t.Fatalf("delete seen as: %+v", o)
					}
					if _, err := obs.Get(c, "big.bin"); !errors.Is(err, njs.ErrObjectNotFound) {
						t.Fatalf("get deleted: %v", err)
					}
				}},
				{"status", func(t *testing.T) {
					st, err := obs.Status(c)
					if err != nil {
						t.Fatal(err)
					}
					// The deleted object's chunks are purged: what is left is
					// small.txt (one chunk) and two meta records.
					if st.Bucket() != "files" || st.Sealed() || st.Size() == 0 || st.Size() > 4096 {
						t.Fatalf("status: bucket %s sealed %v size %d", st.Bucket(), st.Sealed(), st.Size())
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
