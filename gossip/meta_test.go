package gossip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func sampleMeta() wireMeta {
	return wireMeta{
		Meta: Meta{
			ID:         "NCXYZ2ABCDEF",
			Name:       "broker-1",
			Version:    "0.1.0",
			Cluster:    "prod",
			RouteURL:   "quic://10.0.0.1:6222",
			ClientURLs: []string{"nats://10.0.0.1:4222", "ws://10.0.0.1:8080"},
			Tags:       map[string]string{"zone": "eu-1a", "rack": "r7"},
		},
		seq: 300,
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for name, w := range map[string]wireMeta{
		"full":    sampleMeta(),
		"empty":   {},
		"leaving": {Meta: Meta{ID: "x"}, leaving: true, seq: 1},
		"unicode": {Meta: Meta{Name: "brøker-ü", Tags: map[string]string{"": "", "ключ": "значение"}}},
	} {
		b, err := encodeMeta(w)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !got.Meta.Equal(w.Meta) || got.seq != w.seq || got.leaving != w.leaving {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
	}
}

func TestMetaEncodingIsStable(t *testing.T) {
	// The layout documented in docs/gossip.md, byte for byte.
	w := wireMeta{Meta: Meta{ID: "a", Cluster: "c", ClientURLs: []string{"u"}, Tags: map[string]string{"k": "v"}}, seq: 2, leaving: true}
	b, err := encodeMeta(w)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 1, 1, 1, 'a', 4, 1, 'c', 6, 1, 'u', 7, 3, 1, 'k', 'v', 8, 1, 2}
	if !bytes.Equal(b, want) {
		t.Errorf("encoding = %v, want %v", b, want)
	}
	// Encoding is deterministic whatever the map order.
	s := sampleMeta()
	first, _ := encodeMeta(s)
	for range 20 {
		if again, _ := encodeMeta(s); !bytes.Equal(first, again) {
			t.Fatal("encoding depends on map iteration order")
		}
	}
}

func TestMetaTooLarge(t *testing.T) {
	w := sampleMeta()
	w.RouteURL = "tcp://" + strings.Repeat("h", 500) + ":6222"
	if _, err := encodeMeta(w); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("err = %v, want ErrMetaTooLarge", err)
	}
	w = sampleMeta()
	w.ClientURLs = make([]string, maxClientURLs+1)
	if _, err := encodeMeta(w); err == nil {
		t.Error("accepted too many client URLs")
	}
}

func TestMetaDecodeRejects(t *testing.T) {
	good, _ := encodeMeta(sampleMeta())
	for name, b := range map[string][]byte{
		"nil":            nil,
		"short":          {1},
		"format":         {2, 0},
		"truncated":      good[:len(good)-3],
		"huge length":    {1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'},
		"bad varint":     {1, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"repeated id":    {1, 0, 1, 1, 'a', 1, 1, 'b'},
		"tag zero":       {1, 0, 0, 0},
		"bad utf8":       {1, 0, 2, 1, 0xff},
		"bad tag entry":  {1, 0, 7, 2, 5, 'k'},
		"dup tag key":    {1, 0, 7, 2, 1, 'k', 7, 2, 1, 'k'},
		"seq trailing":   {1, 0, 8, 2, 1, 1},
		"too long input": append(append([]byte{1, 0}, good...), make([]byte, MaxMetaSize)...),
	} {
		if _, err := decodeMeta(b); !errors.Is(err, errBadMeta) {
			t.Errorf("%s: err = %v, want errBadMeta", name, err)
		}
	}
}

func TestMetaDecodeSkipsUnknownTags(t *testing.T) {
	b, _ := encodeMeta(wireMeta{Meta: Meta{ID: "a"}})
	b = append(b, 42, 3, 'x', 'y', 'z') // a field from a future revision
	b = append(b, tagName, 1, 'n')
	w, err := decodeMeta(b)
	if err != nil || w.ID != "a" || w.Name != "n" {
		t.Errorf("got %+v, %v", w, err)
	}
}

// FuzzDecodeMeta checks that the decoder never panics, and that whatever it
// accepts re-encodes (within the size limit) to something that decodes to
// the same value. Seeds live in testdata/fuzz/FuzzDecodeMeta.
func FuzzDecodeMeta(f *testing.F) {
	for _, w := range []wireMeta{sampleMeta(), {}, {Meta: Meta{ID: "a"}, leaving: true}} {
		b, _ := encodeMeta(w)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeMeta(b)
		if err != nil {
			return
		}
		again, err := encodeMeta(w)
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", w, err)
		}
		w2, err := decodeMeta(again)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !w2.Meta.Equal(w.Meta) || w2.seq != w.seq || w2.leaving != w.leaving {
			t.Fatalf("round trip changed %+v into %+v", w, w2)
		}
	})
}
