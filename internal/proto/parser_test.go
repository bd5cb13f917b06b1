package proto

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// recorder is a Handler that writes every callback as one line of text, so
// two runs can be compared with ==. It copies what it is given, as the
// Handler contract asks.
type recorder struct {
	calls []string
	// failOn makes the named callback ("SUB", "PUB", ...) return errHandler.
	failOn string
}

var errHandler = errors.New("handler error")

func (r *recorder) add(op, s string) error {
	r.calls = append(r.calls, s)
	if op == r.failOn {
		return errHandler
	}
	return nil
}

func (r *recorder) Connect(arg []byte) error { return r.add("CONNECT", fmt.Sprintf("CONNECT %q", arg)) }
func (r *recorder) Pub(subject, reply []byte, hdrLen int, msg []byte) error {
	return r.add("PUB", fmt.Sprintf("PUB %q %q %d %q", subject, reply, hdrLen, msg))
}
func (r *recorder) Sub(subject, queue, sid []byte) error {
	return r.add("SUB", fmt.Sprintf("SUB %q %q %q", subject, queue, sid))
}
func (r *recorder) Unsub(sid []byte, max int) error {
	return r.add("UNSUB", fmt.Sprintf("UNSUB %q %d", sid, max))
}
func (r *recorder) Ping() error           { return r.add("PING", "PING") }
func (r *recorder) Pong() error           { return r.add("PONG", "PONG") }
func (r *recorder) Info(arg []byte) error { return r.add("INFO", fmt.Sprintf("INFO %q", arg)) }
func (r *recorder) OK() error             { return r.add("OK", "+OK") }
func (r *recorder) Err(arg []byte) error  { return r.add("ERR", fmt.Sprintf("-ERR %q", arg)) }
func pub(subj, reply string, hdr int, msg string) string {
	return fmt.Sprintf("PUB %q %q %d %q", subj, reply, hdr, msg)
}
func sub(subj, queue, sid string) string { return fmt.Sprintf("SUB %q %q %q", subj, queue, sid) }
func unsub(sid string, max int) string   { return fmt.Sprintf("UNSUB %q %d", sid, max) }

// errClass names what the broker would do with err, which is what must not
// depend on how the input was split.
func errClass(err error) string {
	var ve *ViolationError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnknownOp):
		return "unknown-op"
	case errors.Is(err, ErrMaxControlLine):
		return "max-control-line"
	case errors.Is(err, ErrMaxPayload):
		return "max-payload"
	case errors.As(err, &ve):
		return "violation:" + ve.Op
	case errors.Is(err, errHandler):
		return "handler"
	}
	return "other: " + err.Error()
}

// run feeds chunks to a fresh parser, one Parse call each, stopping at the
// first error. Each chunk is copied into a buffer that is scribbled over
// after Parse returns, as a reader reusing its read buffer would, so a parser
// that keeps pointers into a past read shows up as corrupted callbacks.
func run(p Parser, chunks [][]byte, failOn string) ([]string, error) {
	r := &recorder{failOn: failOn}
	for _, c := range chunks {
		buf := append([]byte(nil), c...)
		err := p.Parse(buf, r)
		for i := range buf {
			buf[i] = '#'
		}
		if err != nil {
			return r.calls, err
		}
	}
	return r.calls, nil
}

// splits returns in as one chunk, as every two-way split, as every
// three-way split around the middle, and byte by byte.
func splits(in []byte) (names []string, ways [][][]byte) {
	names = append(names, "whole")
	ways = append(ways, [][]byte{in})
	for i := 0; i <= len(in); i++ {
		names = append(names, fmt.Sprintf("split@%d", i))
		ways = append(ways, [][]byte{in[:i], in[i:]})
	}
	if len(in) > 2 {
		m := len(in) / 2
		for i := 0; i < m; i++ {
			names = append(names, fmt.Sprintf("split@%d,%d", i, m+i))
			ways = append(ways, [][]byte{in[:i], in[i : m+i], in[m+i:]})
		}
	}
	bytewise := make([][]byte, len(in))
	for i := range in {
		bytewise[i] = in[i : i+1]
	}
	names = append(names, "bytewise")
	ways = append(ways, bytewise)
	return names, ways
}

type parseCase struct {
	name  string
	in    string
	want  []string
	err   string // errClass of the final error
	limit Parser // MaxControlLine / MaxPayload settings
}

var parseCases = []parseCase{
	// Every op.
	{name: "pub", in: "PUB foo 5\r\nhello\r\n", want: []string{pub("foo", "", -1, "hello")}, err: "ok"},
	{name: "pub reply", in: "PUB foo.bar _INBOX.1 3\r\nabc\r\n", want: []string{pub("foo.bar", "_INBOX.1", -1, "abc")}, err: "ok"},
	{name: "pub empty payload", in: "PUB foo 0\r\n\r\n", want: []string{pub("foo", "", -1, "")}, err: "ok"},
	{name: "pub payload with CRLF inside", in: "PUB foo 4\r\n\r\n\r\n\r\n", want: []string{pub("foo", "", -1, "\r\n\r\n")}, err: "ok"},
	{name: "pub binary payload", in: "PUB foo 3\r\n\x00\xff\n\r\n", want: []string{pub("foo", "", -1, "\x00\xff\n")}, err: "ok"},
	{name: "hpub", in: "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", want: []string{pub("foo", "", 12, "NATS/1.0\r\n\r\nhi")}, err: "ok"},
	{name: "hpub reply", in: "HPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n", want: []string{pub("foo", "r", 12, "NATS/1.0\r\n\r\n")}, err: "ok"},
	{name: "hpub zero", in: "HPUB foo 0 0\r\n\r\n", want: []string{pub("foo", "", 0, "")}, err: "ok"},
	{name: "sub", in: "SUB foo.* 1\r\n", want: []string{sub("foo.*", "", "1")}, err: "ok"},
	{name: "sub queue", in: "SUB foo.> workers 22\r\n", want: []string{sub("foo.>", "workers", "22")}, err: "ok"},
	{name: "unsub", in: "UNSUB 1\r\n", want: []string{unsub("1", 0)}, err: "ok"},
	{name: "unsub max", in: "UNSUB 1 10\r\n", want: []string{unsub("1", 10)}, err: "ok"},
	{name: "unsub max zero", in: "UNSUB 1 0\r\n", want: []string{unsub("1", 0)}, err: "ok"},
	{name: "ping", in: "PING\r\n", want: []string{"PING"}, err: "ok"},
	{name: "pong", in: "PONG\r\n", want: []string{"PONG"}, err: "ok"},
	{name: "ping trailing text ignored", in: "PING now\r\n", want: []string{"PING"}, err: "ok"},
	{name: "connect", in: "CONNECT {\"verbose\":false,\"name\":\"a b\"}\r\n", want: []string{`CONNECT "{\"verbose\":false,\"name\":\"a b\"}"`}, err: "ok"},
	{name: "connect no space", in: "CONNECT{}\r\n", want: []string{`CONNECT "{}"`}, err: "ok"},
	{name: "connect empty", in: "CONNECT\r\n", want: []string{`CONNECT ""`}, err: "ok"},
	{name: "info", in: "INFO {\"server_id\":\"x\"}\r\n", want: []string{`INFO "{\"server_id\":\"x\"}"`}, err: "ok"},
	{name: "ok", in: "+OK\r\n", want: []string{"+OK"}, err: "ok"},
	{name: "err", in: "-ERR 'Unknown Protocol Operation'\r\n", want: []string{`-ERR "'Unknown Protocol Operation'"`}, err: "ok"},

	// Case and blanks.
	{name: "lower case", in: "pub foo 1\r\nx\r\nhpub foo 0 1\r\ny\r\nsub foo 1\r\nunsub 1 2\r\nping\r\npong\r\nconnect {}\r\ninfo {}\r\n+ok\r\n-err 'x'\r\n",
		want: []string{pub("foo", "", -1, "x"), pub("foo", "", 0, "y"), sub("foo", "", "1"), unsub("1", 2), "PING", "PONG", `CONNECT "{}"`, `INFO "{}"`, "+OK", `-ERR "'x'"`}, err: "ok"},
	{name: "mixed case", in: "PuB foo 1\r\nx\r\nHpUb foo 0 1\r\ny\r\nsUb foo 1\r\nUnSuB 1\r\npInG\r\nPoNg\r\ncOnNeCt {}\r\niNfO {}\r\n+oK\r\n-eRr 'x'\r\n",
		want: []string{pub("foo", "", -1, "x"), pub("foo", "", 0, "y"), sub("foo", "", "1"), unsub("1", 0), "PING", "PONG", `CONNECT "{}"`, `INFO "{}"`, "+OK", `-ERR "'x'"`}, err: "ok"},
	{name: "arguments keep case", in: "SUB Foo.BAR Q 1\r\n", want: []string{sub("Foo.BAR", "Q", "1")}, err: "ok"},
	{name: "tabs", in: "PUB\tfoo\tr\t2\r\nab\r\nSUB\tfoo\tq\t1\r\nUNSUB\t1\t3\r\n", want: []string{pub("foo", "r", -1, "ab"), sub("foo", "q", "1"), unsub("1", 3)}, err: "ok"},
	{name: "many blanks", in: "PUB  \t foo \t\t  2  \r\nab\r\nSUB   foo    1   \r\nUNSUB \t 1 \t \r\nHPUB  foo  r  0   1 \r\nz\r\n",
		want: []string{pub("foo", "", -1, "ab"), sub("foo", "", "1"), unsub("1", 0), pub("foo", "r", 0, "z")}, err: "ok"},
	{name: "bare LF", in: "PUB foo 2\nab\r\nSUB foo 1\nUNSUB 1\nPING\nPONG\nCONNECT {}\nINFO {}\n+OK\n-ERR 'x'\n",
		want: []string{pub("foo", "", -1, "ab"), sub("foo", "", "1"), unsub("1", 0), "PING", "PONG", `CONNECT "{}"`, `INFO "{}"`, "+OK", `-ERR "'x'"`}, err: "ok"},
	{name: "stream of ops", in: "CONNECT {}\r\nPING\r\nSUB a 1\r\nPUB a 1\r\n1\r\nPUB a r 2\r\n22\r\nPONG\r\nUNSUB 1\r\n",
		want: []string{`CONNECT "{}"`, "PING", sub("a", "", "1"), pub("a", "", -1, "1"), pub("a", "r", -1, "22"), "PONG", unsub("1", 0)}, err: "ok"},
	{name: "incomplete op is not an error", in: "PUB foo 5\r\nhel", want: nil, err: "ok"},
	{name: "incomplete line is not an error", in: "SUB foo", want: nil, err: "ok"},

	// Unknown ops and bad framing.
	{name: "garbage", in: "FOO bar\r\n", err: "unknown-op"},
	{name: "bad second letter", in: "PX\r\n", err: "unknown-op"},
	{name: "op without separator", in: "PUBfoo 1\r\n", err: "unknown-op"},
	{name: "sub without args", in: "SUB\r\n", err: "unknown-op"},
	{name: "err without args", in: "-ERR\r\n", err: "unknown-op"},
	{name: "blank line", in: "\r\n", err: "unknown-op"},
	{name: "leading space", in: " PING\r\n", err: "unknown-op"},
	{name: "garbage after good op", in: "PING\r\nXYZ\r\n", want: []string{"PING"}, err: "unknown-op"},
	{name: "payload too long", in: "PUB foo 3\r\nabcd\r\n", err: "unknown-op"},
	{name: "payload LF only", in: "PUB foo 3\r\nabc\nPING\r\n", err: "unknown-op"},
	{name: "payload no terminator", in: "PUB foo 3\r\nabcXY", err: "unknown-op"},
	{name: "hpub payload too short", in: "HPUB foo 1 2\r\nx\r\n\r\n", err: "unknown-op"},

	// Argument violations.
	{name: "pub one arg", in: "PUB foo\r\n", err: "violation:PUB"},
	{name: "pub no args", in: "PUB \r\n", err: "violation:PUB"},
	{name: "pub four args", in: "PUB a b c 1\r\n", err: "violation:PUB"},
	{name: "pub five args", in: "PUB a b c d 1\r\n", err: "violation:PUB"},
	{name: "pub negative size", in: "PUB foo -1\r\n", err: "violation:PUB"},
	{name: "pub non-numeric size", in: "PUB foo 1x\r\n", err: "violation:PUB"},
	{name: "pub size too long", in: "PUB foo 0000000001\r\n", err: "violation:PUB"},
	{name: "pub size plus sign", in: "PUB foo +1\r\n", err: "violation:PUB"},
	{name: "hpub two args", in: "HPUB foo 1\r\n", err: "violation:HPUB"},
	{name: "hpub five args", in: "HPUB a b 1 2 3\r\n", err: "violation:HPUB"},
	{name: "hpub header > size", in: "HPUB foo 5 4\r\n", err: "violation:HPUB"},
	{name: "hpub negative header", in: "HPUB foo -1 4\r\n", err: "violation:HPUB"},
	{name: "hpub bad size", in: "HPUB foo 1 x\r\n", err: "violation:HPUB"},
	{name: "hpub size too long", in: "HPUB foo 1 1234567890\r\n", err: "violation:HPUB"},
	{name: "sub one arg", in: "SUB foo\r\n", err: "violation:SUB"},
	{name: "sub four args", in: "SUB a b c d\r\n", err: "violation:SUB"},
	{name: "sub five args", in: "SUB a b c d e\r\n", err: "violation:SUB"},
	{name: "unsub no args", in: "UNSUB \r\n", err: "violation:UNSUB"},
	{name: "unsub three args", in: "UNSUB 1 2 3\r\n", err: "violation:UNSUB"},
	// nats-server reads a bad UNSUB maximum as -1 and removes the sub.
	{name: "unsub negative max", in: "UNSUB 1 -2\r\n", want: []string{`UNSUB "1" -1`}, err: "ok"},
	{name: "unsub non-numeric max", in: "UNSUB 1 two\r\n", want: []string{`UNSUB "1" -1`}, err: "ok"},
	{name: "violation after good ops", in: "PING\r\nSUB a 1\r\nSUB b\r\nPING\r\n", want: []string{"PING", sub("a", "", "1")}, err: "violation:SUB"},

	// Limits.
	{name: "max payload", in: "PUB foo 11\r\n", err: "max-payload", limit: Parser{MaxPayload: 10}},
	{name: "max payload equal", in: "PUB foo 10\r\n0123456789\r\n", want: []string{pub("foo", "", -1, "0123456789")}, err: "ok", limit: Parser{MaxPayload: 10}},
	{name: "max payload hpub", in: "HPUB foo 1 11\r\n", err: "max-payload", limit: Parser{MaxPayload: 10}},
	{name: "max payload default", in: "PUB foo 1048577\r\n", err: "max-payload"},
	{name: "max payload default equal", in: "PUB foo 1048576\r\n", err: "ok"},
	{name: "max control line", in: "SUB " + strings.Repeat("a", 40) + " 1\r\n", err: "max-control-line", limit: Parser{MaxControlLine: 32}},
	{name: "max control line no newline", in: "SUB " + strings.Repeat("a", 40), err: "max-control-line", limit: Parser{MaxControlLine: 32}},
	{name: "max control line under", in: "SUB " + strings.Repeat("a", 28) + " 1\r\n", want: []string{sub(strings.Repeat("a", 28), "", "1")}, err: "ok", limit: Parser{MaxControlLine: 32}},
	{name: "max control line connect", in: "CONNECT {" + strings.Repeat(" ", 5000) + "}\r\n", err: "max-control-line"},
	{name: "max control line applies per line", in: strings.Repeat("SUB "+strings.Repeat("a", 20)+" 1\r\n", 4), want: slices.Repeat([]string{sub(strings.Repeat("a", 20), "", "1")}, 4), err: "ok", limit: Parser{MaxControlLine: 32}},
}

// TestParse checks every case fed whole, split at every byte boundary, split
// in three and byte by byte: the callbacks and the error must not depend on
// how the bytes arrived.
func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			names, ways := splits([]byte(tc.in))
			for i, chunks := range ways {
				got, err := run(tc.limit, chunks, "")
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: callbacks\n got %q\nwant %q", names[i], got, tc.want)
				}
				if c := errClass(err); c != tc.err {
					t.Errorf("%s: error %s (%v), want %s", names[i], c, err, tc.err)
				}
				if t.Failed() {
					return // one split's failure is enough to read
				}
			}
		})
	}
}

// TestParseControlLineAtLimit: a control line of exactly MaxControlLine bytes
// (not counting CRLF) is accepted when it arrives whole; it must also be
// accepted when a read ends between its '\r' and '\n'.
func TestParseControlLineAtLimit(t *testing.T) {
	args := "foo " + strings.Repeat("1", 28) // 32 bytes
	in := []byte("SUB " + args + "\r\n")
	p := Parser{MaxControlLine: 32}
	want := []string{sub("foo", "", strings.Repeat("1", 28))}

	got, err := run(p, [][]byte{in}, "")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("whole: got %q, %v; want %q, nil", got, err, want)
	}
	cr := len(in) - 1 // split between '\r' and '\n'
	got, err = run(p, [][]byte{in[:cr], in[cr:]}, "")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("BUG (parser.go stArgs): split before the final '\\n' got %q, %v; want %q, nil: "+
			"the pending-line check counts the trailing '\\r' against MaxControlLine", got, err, want)
	}
}

// TestParseLargePayload feeds payloads bigger than a read in read-sized
// chunks, several messages back to back.
func TestParseLargePayload(t *testing.T) {
	payload := make([]byte, 100_000)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var in bytes.Buffer
	var want []string
	for i := range 3 {
		subj := fmt.Sprintf("big.%d", i)
		fmt.Fprintf(&in, "PUB %s reply.%d %d\r\n%s\r\n", subj, i, len(payload)-i, payload[:len(payload)-i])
		want = append(want, pub(subj, fmt.Sprintf("reply.%d", i), -1, string(payload[:len(payload)-i])))
		fmt.Fprintf(&in, "HPUB %s 12 %d\r\nNATS/1.0\r\n\r\n%s\r\n", subj, len(payload)+12, payload)
		want = append(want, pub(subj, "", 12, "NATS/1.0\r\n\r\n"+string(payload)))
		in.WriteString("PING\r\n")
		want = append(want, "PING")
	}
	for _, readSize := range []int{1, 7, 512, 4096, 65536, 1 << 20} {
		t.Run(fmt.Sprint(readSize), func(t *testing.T) {
			var chunks [][]byte
			for b := in.Bytes(); len(b) > 0; {
				n := min(readSize, len(b))
				chunks = append(chunks, b[:n])
				b = b[n:]
			}
			got, err := run(Parser{}, chunks, "")
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d callbacks, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("callback %d differs (len %d vs %d)", i, len(got[i]), len(want[i]))
				}
			}
		})
	}
}

// TestParseHandlerError: a handler error stops parsing at once and is
// returned unchanged.
func TestParseHandlerError(t *testing.T) {
	in := "PING\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPONG\r\nCONNECT {}\r\n+OK\r\n"
	cases := []struct {
		failOn string
		want   int // callbacks made, the failing one included
	}{
		{"PING", 1}, {"SUB", 2}, {"PUB", 3}, {"PONG", 4}, {"CONNECT", 5}, {"OK", 6},
	}
	for _, tc := range cases {
		names, ways := splits([]byte(in))
		for i, chunks := range ways {
			got, err := run(Parser{}, chunks, tc.failOn)
			if err != errHandler {
				t.Fatalf("fail on %s, %s: error %v, want the handler's", tc.failOn, names[i], err)
			}
			if len(got) != tc.want {
				t.Fatalf("fail on %s, %s: %d callbacks %q, want %d", tc.failOn, names[i], len(got), got, tc.want)
			}
		}
	}
}

func TestViolationError(t *testing.T) {
	long := "PUB " + strings.Repeat("x", 300) + "\r\n"
	var p Parser
	err := p.Parse([]byte(long), &recorder{})
	var ve *ViolationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ViolationError", err)
	}
	if ve.Op != "PUB" || len(ve.Arg) != 128 {
		t.Errorf("got Op %q, len(Arg) %d; want PUB, 128 (truncated)", ve.Op, len(ve.Arg))
	}
	if !strings.HasPrefix(ve.Error(), "PUB parse error") {
		t.Errorf("Error() = %q", ve.Error())
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"0", 0}, {"7", 7}, {"1024", 1024}, {"000000012", 12}, {"999999999", 999999999},
		{"", -1}, {"-1", -1}, {"+1", -1}, {"1a", -1}, {" 1", -1}, {"1234567890", -1}, {"0x10", -1},
	}
	for _, tc := range cases {
		if got := ParseSize([]byte(tc.in)); got != tc.want {
			t.Errorf("ParseSize(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestErrLine(t *testing.T) {
	if got := string(ErrLine(ErrTextUnknownOp)); got != "-ERR 'Unknown Protocol Operation'\r\n" {
		t.Errorf("ErrLine = %q", got)
	}
}

// countHandler counts callbacks without allocating.
type countHandler struct{ pubs, bytes, other int }

func (h *countHandler) Connect([]byte) error { h.other++; return nil }
func (h *countHandler) Pub(_, _ []byte, _ int, msg []byte) error {
	h.pubs++
	h.bytes += len(msg)
	return nil
}
func (h *countHandler) Sub(_, _, _ []byte) error { h.other++; return nil }
func (h *countHandler) Unsub([]byte, int) error  { h.other++; return nil }
func (h *countHandler) Ping() error              { h.other++; return nil }
func (h *countHandler) Pong() error              { h.other++; return nil }
func (h *countHandler) Info([]byte) error        { h.other++; return nil }
func (h *countHandler) OK() error                { h.other++; return nil }
func (h *countHandler) Err([]byte) error         { h.other++; return nil }

// TestParseZeroAlloc: ops that arrive whole in one buffer cost no
// allocation, PUB above all.
func TestParseZeroAlloc(t *testing.T) {
	cases := map[string]string{
		"pub":   "PUB foo.bar 5\r\nhello\r\n",
		"reply": "PUB foo.bar _INBOX.abc 5\r\nhello\r\n",
		"hpub":  "HPUB foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
		"many":  strings.Repeat("PUB foo.bar 5\r\nhello\r\n", 50) + "PING\r\nPONG\r\n",
		"other": "SUB foo q 1\r\nUNSUB 1 2\r\n+OK\r\n",
	}
	for name, in := range cases {
		buf := []byte(in)
		var p Parser
		h := &countHandler{}
		allocs := testing.AllocsPerRun(1000, func() {
			if err := p.Parse(buf, h); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Parse, want 0", name, allocs)
		}
	}
}

// TestParseSplitReusesCarry: once the carry buffer has grown, ops split
// across reads stop allocating too.
func TestParseSplitReusesCarry(t *testing.T) {
	in := []byte("PUB foo.bar 5\r\nhello\r\n")
	var p Parser
	h := &countHandler{}
	feed := func() {
		for _, c := range [][]byte{in[:6], in[6:13], in[13:18], in[18:]} {
			if err := p.Parse(c, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed()
	if allocs := testing.AllocsPerRun(100, feed); allocs != 0 {
		t.Errorf("%v allocs per split PUB once warmed up, want 0", allocs)
	}
	if h.pubs != 102 || h.bytes != 5*102 {
		t.Errorf("got %d pubs / %d bytes, want 102 / 510", h.pubs, h.bytes)
	}
}

// BenchmarkParsePub parses a read buffer full of PUBs, as a busy publisher's
// reads look. SetBytes counts payload bytes.
func BenchmarkParsePub(b *testing.B) {
	for _, size := range []int{16, 128} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			payload := strings.Repeat("x", size)
			one := fmt.Sprintf("PUB foo.bar.baz %d\r\n%s\r\n", size, payload)
			perBuf := max(1, 64*1024/len(one))
			buf := []byte(strings.Repeat(one, perBuf))
			var p Parser
			h := &countHandler{}
			b.SetBytes(int64(size * perBuf))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Parse(buf, h); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(h.pubs), "ns/msg")
		})
	}
}
