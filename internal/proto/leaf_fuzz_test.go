package proto

import (
	"errors"
	"fmt"
	"testing"
)

// leafRecorder records leaf callbacks as strings.
type leafRecorder struct{ ops []string }

func (r *leafRecorder) add(f string, a ...any) error {
	r.ops = append(r.ops, fmt.Sprintf(f, a...))
	return nil
}
func (r *leafRecorder) LeafInfo(a []byte) error    { return r.add("INFO %s", a) }
func (r *leafRecorder) LeafConnect(a []byte) error { return r.add("CONNECT %s", a) }
func (r *leafRecorder) LeafSub(s, q []byte, w int) error {
	return r.add("LS+ %s %s %d", s, q, w)
}
func (r *leafRecorder) LeafUnsub(s, q []byte) error { return r.add("LS- %s %s", s, q) }
func (r *leafRecorder) LeafMsg(s, reply []byte, qs [][]byte, hdr int, msg []byte) error {
	return r.add("MSG %s %s %q %d %q", s, reply, qs, hdr, msg)
}
func (r *leafRecorder) Ping() error        { return r.add("PING") }
func (r *leafRecorder) Pong() error        { return r.add("PONG") }
func (r *leafRecorder) OK() error          { return r.add("OK") }
func (r *leafRecorder) Err(a []byte) error { return r.add("ERR %s", a) }

func parseLeaf(chunks ...[]byte) ([]string, error) {
	p := LeafParser{MaxControlLine: 256, MaxPayload: 1024}
	r := &leafRecorder{}
	for _, c := range chunks {
		buf := append([]byte(nil), c...)
		err := p.Parse(buf, r)
		for i := range buf {
			buf[i] = 'X' // the parser must not keep pointers into old buffers
		}
		if err != nil {
			return r.ops, err
		}
	}
	return r.ops, nil
}

func TestLeafParser(t *testing.T) {
	in := "INFO {}\r\nLS+ foo\r\nLS+ foo.* q 3\r\nLS- foo\r\nLS- foo.* q\r\nRS+ bar\r\nPING\r\nPONG\r\n" +
		"LMSG a 2\r\nhi\r\nLMSG a r 1\r\nx\r\nLMSG a + r q1 q2 0\r\n\r\nLMSG a | q1 3\r\nabc\r\n" +
		"HMSG a 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG a + r q 12 12\r\nNATS/1.0\r\n\r\n\r\n-ERR 'x'\r\n"
	want, err := parseLeaf([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 15 {
		t.Fatalf("got %d ops: %q", len(want), want)
	}
	if want[1] != "LS+ foo  0" || want[2] != "LS+ foo.* q 3" || want[8] != `MSG a  [] -1 "hi"` ||
		want[10] != `MSG a r ["q1" "q2"] -1 ""` || want[13] != `MSG a r ["q"] 12 "NATS/1.0\r\n\r\n"` {
		t.Fatalf("ops: %q", want)
	}
	for i := 1; i < len(in); i++ {
		got, err := parseLeaf([]byte(in[:i]), []byte(in[i:]))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("split at %d: %q %v", i, got, err)
		}
	}
	for _, bad := range []string{"LS+\r\n", "LS+ a q\r\n", "LS+ a q 0\r\n", "LS- a b c\r\n",
		"LMSG a\r\n", "LMSG a -1\r\n", "LMSG a 1\r\nxx\r\n", "HMSG a 5 3\r\n", "RMSG $G a 1\r\n",
		"BOGUS\r\n", "LMSG a x y 1\r\n"} {
		if _, err := parseLeaf([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseLeaf([]byte("LMSG a 5000\r\n")); !errors.Is(err, ErrMaxPayload) {
		t.Errorf("oversized LMSG: %v", err)
	}
}

// FuzzLeafParser: any input, whole or split anywhere, gives the same ops
// and the same error, and never panics.
func FuzzLeafParser(f *testing.F) {
	for _, s := range []string{"LS+ foo\r\n", "LS+ a q 2\r\nLS- a q\r\n", "LMSG a + r q 2\r\nhi\r\n",
		"HMSG a | q 12 12\r\nNATS/1.0\r\n\r\n\r\n", "PING\r\nINFO {}\r\n", "LMSG a 1\r\n", "RS+ $LDS.x\r\n"} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole, werr := parseLeaf(in)
		i := int(split) % (len(in) + 1)
		parts, perr := parseLeaf(in[:i], in[i:])
		if (werr == nil) != (perr == nil) || fmt.Sprint(whole) != fmt.Sprint(parts) {
			t.Fatalf("whole %q %v; split at %d %q %v", whole, werr, i, parts, perr)
		}
	})
}
