package proto

import (
	"errors"
	"fmt"
	"testing"
)

// routeRecorder records route callbacks as strings.
type routeRecorder struct{ ops []string }

func (r *routeRecorder) add(f string, a ...any) error {
	r.ops = append(r.ops, fmt.Sprintf(f, a...))
	return nil
}
func (r *routeRecorder) RouteInfo(a []byte) error    { return r.add("INFO %s", a) }
func (r *routeRecorder) RouteConnect(a []byte) error { return r.add("CONNECT %s", a) }
func (r *routeRecorder) RemoteSub(acc, s, q []byte, w int) error {
	return r.add("RS+ %s %s %s %d", acc, s, q, w)
}
func (r *routeRecorder) RemoteUnsub(acc, s, q []byte) error { return r.add("RS- %s %s %s", acc, s, q) }
func (r *routeRecorder) RoutedMsg(acc, s, reply []byte, qs [][]byte, hdr int, msg []byte) error {
	return r.add("MSG %s %s %s %q %d %q", acc, s, reply, qs, hdr, msg)
}
func (r *routeRecorder) Ping() error        { return r.add("PING") }
func (r *routeRecorder) Pong() error        { return r.add("PONG") }
func (r *routeRecorder) OK() error          { return r.add("OK") }
func (r *routeRecorder) Err(a []byte) error { return r.add("ERR %s", a) }

func parseRoute(chunks ...[]byte) ([]string, error) {
	p := RouteParser{MaxControlLine: 256, MaxPayload: 1024}
	r := &routeRecorder{}
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

func TestRouteParser(t *testing.T) {
	in := "INFO {}\r\nRS+ $G foo\r\nRS+ A foo.* q 3\r\nRS- $G foo\r\nRS- A foo.* q\r\nPING\r\nPONG\r\n" +
		"RMSG $G a 2\r\nhi\r\nRMSG A a r 1\r\nx\r\nRMSG $G a + r q1 q2 0\r\n\r\nRMSG B a | q1 3\r\nabc\r\n" +
		"HMSG $G a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
	want, err := parseRoute([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 12 {
		t.Fatalf("got %d ops: %q", len(want), want)
	}
	for i := 1; i < len(in); i++ {
		got, err := parseRoute([]byte(in[:i]), []byte(in[i:]))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("split at %d: %q %v", i, got, err)
		}
	}
	for _, bad := range []string{"RS+\r\n", "RS+ a\r\n", "RS+ $G a q\r\n", "RS+ $G a q 0\r\n", "RS- $G\r\n",
		"RMSG $G a\r\n", "RMSG a 1\r\n", "RMSG $G a -1\r\n", "RMSG $G a 1\r\nxx\r\n", "HMSG $G a 5 3\r\n",
		"BOGUS\r\n", "RMSG $G a x y 1\r\n"} {
		if _, err := parseRoute([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseRoute([]byte("RMSG $G a 5000\r\n")); !errors.Is(err, ErrMaxPayload) {
		t.Errorf("oversized RMSG: %v", err)
	}
}

// FuzzRouteParser: any input, whole or split anywhere, gives the same ops
// and the same error, and never panics.
func FuzzRouteParser(f *testing.F) {
	for _, s := range []string{"RS+ $G foo\r\n", "RS+ A a q 2\r\nRS- A a q\r\n", "RMSG $G a + r q 2\r\nhi\r\n",
		"HMSG B a | q 12 12\r\nNATS/1.0\r\n\r\n\r\n", "PING\r\nINFO {}\r\n", "RMSG $G a 1\r\n"} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole, werr := parseRoute(in)
		i := int(split) % (len(in) + 1)
		parts, perr := parseRoute(in[:i], in[i:])
		if (werr == nil) != (perr == nil) || fmt.Sprint(whole) != fmt.Sprint(parts) {
			t.Fatalf("whole %q %v; split at %d %q %v", whole, werr, i, parts, perr)
		}
	})
}
