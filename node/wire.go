package node

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// The wire format is plain NATS: subjects name the destination, headers carry
// the metadata, the body is the application's payload untouched.
// docs/node.md specifies it for clients in other languages.

// Subject layout: SubjectPrefix + "." + namespace + "." + kind [+ "." + id].
const (
	// SubjectPrefix begins every subject the SDK uses.
	SubjectPrefix = "murmur.node"
)

// Header names. Like all NATS headers they are case-sensitive.
const (
	// HeaderData carries all of a Data message's metadata in one header,
	// "<from> <session> <seq> <kind> [<floor>]": one header line to write
	// and parse per message instead of five (it is the hot path).
	HeaderData     = "Murmur-Data"
	HeaderFrom     = "Murmur-From"     // acker (Ack) or sender (presence) node ID
	HeaderSession  = "Murmur-Session"  // Ack: echoes the Data's; presence: the sender's
	HeaderAckSeq   = "Murmur-Ack-Seq"  // acked seqs: "7", "7,9", "3-8,11"
	HeaderPresence = "Murmur-Presence" // "alive" or "leave"
)

// Kind says how a Data message was addressed.
type Kind uint8

// The kinds of Data.
const (
	KindDirect Kind = iota + 1
	KindBroadcast
)

// String is the wire form: "direct" or "broadcast".
func (k Kind) String() string {
	switch k {
	case KindDirect:
		return "direct"
	case KindBroadcast:
		return "broadcast"
	}
	return "unknown"
}

func parseKind(s string) (Kind, bool) {
	switch s {
	case "direct":
		return KindDirect, true
	case "broadcast":
		return KindBroadcast, true
	}
	return 0, false
}

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed")

// maxAckSeqs bounds how many seqs one Ack may name, so a hostile "1-1e18"
// range cannot make a node loop.
const maxAckSeqs = 1 << 16

// subjects are the subjects of one namespace, computed once.
type subjects struct {
	base      string // murmur.node.<ns>.
	broadcast string
	presence  string
}

func newSubjects(namespace string) subjects {
	base := SubjectPrefix + "." + namespace + "."
	return subjects{base: base, broadcast: base + "broadcast", presence: base + "presence"}
}

func (s subjects) direct(id string) string { return s.base + "direct." + id }
func (s subjects) ack(id string) string    { return s.base + "ack." + id }

// validToken reports whether s can be one subject token: non-empty, no dots,
// wildcards or whitespace.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.', c == '*', c == '>', c <= ' ', c == 0x7f:
			return false
		}
	}
	return true
}

// data is a decoded Data message.
type data struct {
	from    string
	session string
	seq     uint64
	floor   uint64
	kind    Kind
	payload []byte
}

// appendData formats a Murmur-Data header value.
func appendData(b []byte, from, session string, seq uint64, kind Kind, floor uint64) []byte {
	b = append(b, from...)
	b = append(b, ' ')
	b = append(b, session...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ' ')
	b = append(b, kind.String()...)
	b = append(b, ' ')
	return strconv.AppendUint(b, floor, 10)
}

// decodeData reads a Data message's Murmur-Data header. The body is the
// payload as is.
func decodeData(h nats.Header, body []byte) (data, error) {
	v := h.Get(HeaderData)
	bad := func(what string) (data, error) {
		return data{}, fmt.Errorf("%w: %s %q: %s", errMalformed, HeaderData, v, what)
	}
	d := data{payload: body}
	rest := v
	var f [5]string
	n := 0
	for rest != "" && n < len(f) {
		f[n], rest, _ = strings.Cut(rest, " ")
		n++
	}
	if rest != "" || n < 4 {
		return bad("want <from> <session> <seq> <kind> [<floor>]")
	}
	d.from, d.session = f[0], f[1]
	if !validToken(d.from) {
		return bad("from")
	}
	if d.session == "" {
		return bad("session")
	}
	var err error
	if d.seq, err = strconv.ParseUint(f[2], 10, 64); err != nil || d.seq == 0 {
		return bad("seq")
	}
	var ok bool
	if d.kind, ok = parseKind(f[3]); !ok {
		return bad("kind")
	}
	if n == 5 {
		if d.floor, err = strconv.ParseUint(f[4], 10, 64); err != nil || d.floor > d.seq {
			return bad("floor")
		}
	}
	return d, nil
}

// ack is a decoded Ack message.
type ack struct {
	from    string
	session string
	seqs    []uint64
}

// decodeAck reads an Ack message; the body is ignored.
func decodeAck(h nats.Header) (ack, error) {
	a := ack{from: h.Get(HeaderFrom), session: h.Get(HeaderSession)}
	if !validToken(a.from) {
		return a, fmt.Errorf("%w: %s %q", errMalformed, HeaderFrom, a.from)
	}
	if a.session == "" {
		return a, fmt.Errorf("%w: no %s", errMalformed, HeaderSession)
	}
	var err error
	if a.seqs, err = parseSeqList(h.Get(HeaderAckSeq), nil); err != nil {
		return a, err
	}
	return a, nil
}

// parseSeqList parses "3-8,11" into dst: comma-separated seqs or inclusive
// ranges, at most maxAckSeqs in all.
func parseSeqList(s string, dst []uint64) ([]uint64, error) {
	if s == "" {
		return dst, fmt.Errorf("%w: empty %s", errMalformed, HeaderAckSeq)
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 64)
		}
		if err != nil || a == 0 || b < a || b-a >= maxAckSeqs || len(dst)+int(b-a+1) > maxAckSeqs {
			return dst, fmt.Errorf("%w: %s %q", errMalformed, HeaderAckSeq, s)
		}
		for q := a; ; q++ {
			dst = append(dst, q)
			if q == b {
				break
			}
		}
	}
	return dst, nil
}

// appendSeqList formats seqs (any order) compactly, collapsing consecutive
// runs into ranges. It sorts seqs in place.
func appendSeqList(b []byte, seqs []uint64) []byte {
	if !slices.IsSorted(seqs) { // acks are mostly queued in order
		slices.Sort(seqs)
	}
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] <= seqs[j]+1 {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, seqs[i], 10)
		if seqs[j] != seqs[i] {
			b = append(b, '-')
			b = strconv.AppendUint(b, seqs[j], 10)
		}
		i = j + 1
	}
	return b
}

// presence is a decoded presence heartbeat.
type presence struct {
	from    string
	session string
	leave   bool
}

func decodePresence(h nats.Header) (presence, error) {
	p := presence{from: h.Get(HeaderFrom), session: h.Get(HeaderSession)}
	if !validToken(p.from) {
		return p, fmt.Errorf("%w: %s %q", errMalformed, HeaderFrom, p.from)
	}
	if p.session == "" {
		return p, fmt.Errorf("%w: no %s", errMalformed, HeaderSession)
	}
	switch v := h.Get(HeaderPresence); v {
	case "alive":
	case "leave":
		p.leave = true
	default:
		return p, fmt.Errorf("%w: %s %q", errMalformed, HeaderPresence, v)
	}
	return p, nil
}
