package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxMetaSize is the largest encoded metadata memberlist will carry for a
// node (memberlist.MetaMaxSize). Encoding fails rather than truncating.
const MaxMetaSize = 512

// Limits the decoder enforces so that a hostile peer cannot make a member
// entry arbitrarily wide. They are far above what fits in MaxMetaSize for
// sane values, so they only reject garbage.
const (
	maxClientURLs = 16
	maxTags       = 16
)

// metaFormat is the first byte of every encoded Meta. A decoder rejects
// other values; new optional fields are added as new tags instead, which old
// decoders skip.
const metaFormat = 1

// Field tags of the encoding (docs/gossip.md).
const (
	tagID        = 1
	tagName      = 2
	tagVersion   = 3
	tagCluster   = 4
	tagRouteURL  = 5
	tagClientURL = 6 // repeatable, in order
	tagTag       = 7 // repeatable: uvarint key length, key, value
	tagSeq       = 8 // uvarint
)

// Flag bits of the second byte.
const flagLeaving = 1 << 0

// ErrMetaTooLarge is returned (wrapped) when metadata does not fit in
// MaxMetaSize bytes once encoded.
var ErrMetaTooLarge = errors.New("gossip: metadata exceeds 512 bytes")

// errBadMeta is wrapped by every decoding error.
var errBadMeta = errors.New("gossip: malformed metadata")

// Meta is what a broker tells the cluster about itself. It travels in
// memberlist's per-node metadata, so everything together must encode to at
// most MaxMetaSize bytes; keep URLs short and Tags few.
type Meta struct {
	// ID is the broker's unique server id.
	ID string
	// Name is the human-readable broker name; it defaults to the gossip
	// node name.
	Name string
	// Version is the broker's software version.
	Version string
	// Cluster is the cluster name; gossip fills it from Config.Cluster and
	// refuses members whose value differs.
	Cluster string
	// RouteURL is where other brokers open routes to this one, with its
	// transport as the scheme: "tcp://10.0.0.1:6222" or "quic://...".
	RouteURL string
	// ClientURLs are the URLs clients may connect to (for connect_urls).
	ClientURLs []string
	// Tags is a small free-form map (zone, rack, ...). Keys are unique and
	// encoded in sorted order.
	Tags map[string]string
}

// Equal reports whether two Meta values carry the same information; a nil
// and an empty ClientURLs or Tags are equal.
func (m Meta) Equal(o Meta) bool {
	if m.ID != o.ID || m.Name != o.Name || m.Version != o.Version ||
		m.Cluster != o.Cluster || m.RouteURL != o.RouteURL ||
		!slices.Equal(m.ClientURLs, o.ClientURLs) || len(m.Tags) != len(o.Tags) {
		return false
	}
	for k, v := range m.Tags {
		if ov, ok := o.Tags[k]; !ok || ov != v {
			return false
		}
	}
	return true
}

// clone returns a deep copy so callers cannot alias the gossip copy.
func (m Meta) clone() Meta {
	m.ClientURLs = slices.Clone(m.ClientURLs)
	if m.Tags != nil {
		t := make(map[string]string, len(m.Tags))
		for k, v := range m.Tags {
			t[k] = v
		}
		m.Tags = t
	}
	return m
}

// wireMeta is Meta plus the fields gossip itself manages.
type wireMeta struct {
	Meta
	seq     uint64 // bumped by every UpdateMeta; see Member.MetaSeq
	leaving bool   // set just before a graceful Leave
}

// encodeMeta encodes w in the format described in docs/gossip.md. It
// returns ErrMetaTooLarge instead of truncating.
func encodeMeta(w wireMeta) ([]byte, error) {
	if len(w.ClientURLs) > maxClientURLs {
		return nil, fmt.Errorf("gossip: %d client URLs, at most %d", len(w.ClientURLs), maxClientURLs)
	}
	if len(w.Tags) > maxTags {
		return nil, fmt.Errorf("gossip: %d tags, at most %d", len(w.Tags), maxTags)
	}
	var flags byte
	if w.leaving {
		flags |= flagLeaving
	}
	b := make([]byte, 0, 128)
	b = append(b, metaFormat, flags)
	b = appendField(b, tagID, w.ID)
	b = appendField(b, tagName, w.Name)
	b = appendField(b, tagVersion, w.Version)
	b = appendField(b, tagCluster, w.Cluster)
	b = appendField(b, tagRouteURL, w.RouteURL)
	for _, u := range w.ClientURLs {
		b = append(b, tagClientURL)
		b = appendString(b, u)
	}
	keys := make([]string, 0, len(w.Tags))
	for k := range w.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := w.Tags[k]
		inner := binary.AppendUvarint(nil, uint64(len(k)))
		inner = append(inner, k...)
		inner = append(inner, v...)
		b = append(b, tagTag)
		b = appendString(b, string(inner))
	}
	if w.seq != 0 {
		b = append(b, tagSeq)
		b = appendString(b, string(binary.AppendUvarint(nil, w.seq)))
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMetaTooLarge, len(b))
	}
	return b, nil
}

// appendField appends a single-valued field, leaving it out when empty.
func appendField(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, tag)
	return appendString(b, s)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeMeta parses an encoded Meta. It never panics and never allocates
// more than the input's size (plus the small caps above); every malformed
// input yields an error wrapping errBadMeta. Unknown tags are skipped so
// that newer brokers may add fields.
func decodeMeta(b []byte) (wireMeta, error) {
	var w wireMeta
	if len(b) < 2 {
		return w, fmt.Errorf("%w: %d bytes, need at least 2", errBadMeta, len(b))
	}
	if len(b) > MaxMetaSize {
		return w, fmt.Errorf("%w: %d bytes, more than %d", errBadMeta, len(b), MaxMetaSize)
	}
	if b[0] != metaFormat {
		return w, fmt.Errorf("%w: format %d, want %d", errBadMeta, b[0], metaFormat)
	}
	w.leaving = b[1]&flagLeaving != 0
	var seen [tagSeq + 1]bool
	p := b[2:]
	for len(p) > 0 {
		tag := p[0]
		n, k := binary.Uvarint(p[1:])
		if k <= 0 || n > uint64(len(p)-1-k) {
			return w, fmt.Errorf("%w: bad length of tag %d", errBadMeta, tag)
		}
		val := p[1+k : 1+k+int(n)]
		p = p[1+k+int(n):]
		if tag > tagSeq {
			continue // a field from a newer format revision
		}
		if tag == 0 {
			return w, fmt.Errorf("%w: tag 0", errBadMeta)
		}
		if tag != tagClientURL && tag != tagTag {
			if seen[tag] {
				return w, fmt.Errorf("%w: tag %d repeated", errBadMeta, tag)
			}
			seen[tag] = true
		}
		if tag != tagSeq && tag != tagTag && !utf8.Valid(val) {
			return w, fmt.Errorf("%w: tag %d is not UTF-8", errBadMeta, tag)
		}
		switch tag {
		case tagID:
			w.ID = string(val)
		case tagName:
			w.Name = string(val)
		case tagVersion:
			w.Version = string(val)
		case tagCluster:
			w.Cluster = string(val)
		case tagRouteURL:
			w.RouteURL = string(val)
		case tagClientURL:
			if len(w.ClientURLs) == maxClientURLs {
				return w, fmt.Errorf("%w: more than %d client URLs", errBadMeta, maxClientURLs)
			}
			w.ClientURLs = append(w.ClientURLs, string(val))
		case tagTag:
			key, value, err := decodeTag(val)
			if err != nil {
				return w, err
			}
			if w.Tags == nil {
				w.Tags = make(map[string]string)
			}
			if _, dup := w.Tags[key]; dup {
				return w, fmt.Errorf("%w: tag key %q repeated", errBadMeta, key)
			}
			if len(w.Tags) == maxTags {
				return w, fmt.Errorf("%w: more than %d tags", errBadMeta, maxTags)
			}
			w.Tags[key] = value
		case tagSeq:
			s, k := binary.Uvarint(val)
			if k <= 0 || k != len(val) {
				return w, fmt.Errorf("%w: bad sequence number", errBadMeta)
			}
			w.seq = s
		}
	}
	return w, nil
}

func decodeTag(val []byte) (key, value string, err error) {
	n, k := binary.Uvarint(val)
	if k <= 0 || n > uint64(len(val)-k) {
		return "", "", fmt.Errorf("%w: bad tag key length", errBadMeta)
	}
	kb, vb := val[k:k+int(n)], val[k+int(n):]
	if !utf8.Valid(kb) || !utf8.Valid(vb) {
		return "", "", fmt.Errorf("%w: tag is not UTF-8", errBadMeta)
	}
	return string(kb), string(vb), nil
}

// validateMeta checks what encodeMeta cannot: URL shapes. field names the
// config field for error messages.
func validateMeta(field string, m Meta) error {
	if m.RouteURL != "" && !strings.Contains(m.RouteURL, "://") {
		return fmt.Errorf("gossip: %s.RouteURL %q: want scheme://host:port, e.g. tcp://10.0.0.1:6222", field, m.RouteURL)
	}
	for _, u := range m.ClientURLs {
		if !strings.Contains(u, "://") {
			return fmt.Errorf("gossip: %s.ClientURLs entry %q: want scheme://host:port", field, u)
		}
	}
	for k := range m.Tags {
		if k == "" {
			return fmt.Errorf("gossip: %s.Tags has an empty key", field)
		}
	}
	return nil
}
