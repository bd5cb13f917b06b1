package broker

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/logfmt"
	"github.com/murmurmq/murmur/mux"
)

// Protocol tracing (Options.Trace, -V), in nats-server's words: each op a
// client sends is "<<- [OP args]", each one it is sent "->> [OP args]", a
// message's payload follows as "MSG_PAYLOAD: ["..."]" (cut to
// MaxTracedMsgLen), CONNECT shows its JSON with passwords, tokens,
// signatures and nkeys replaced by [REDACTED]. The connection's logger
// carries its cid and remote address. A connection decides at accept
// whether it traces (conn.trace); with tracing off every call site is
// one boolean test and no allocation.

// TraceLevel is the level trace lines are logged at, below
// zapcore.DebugLevel; the broker command's encoder tags it [TRC].
const TraceLevel = logfmt.TraceLevel

// traceIn logs an op the peer sent.
func (c *conn) traceIn(op string, arg []byte) { c.traceOp("<<- [", op, arg) }

// traceOut logs an op sent to the peer.
func (c *conn) traceOut(op string, arg []byte) { c.traceOp("->> [", op, arg) }

func (c *conn) traceOp(dir, op string, arg []byte) {
	b := make([]byte, 0, len(dir)+len(op)+len(arg)+2)
	b = append(append(b, dir...), op...)
	if len(arg) > 0 {
		b = append(append(b, ' '), arg...)
	}
	c.log.Log(TraceLevel, string(append(b, ']')))
}

// traceOutLine logs a protocol line as it is queued (PONG, +OK, -ERR
// ...). INFO is not traced, as nats-server does not.
func (c *conn) traceOutLine(line []byte) {
	line = trimCRLF(line)
	op, arg := line, []byte(nil)
	for i, b := range line {
		if b == ' ' {
			op, arg = line[:i], line[i+1:]
			break
		}
	}
	switch string(op) {
	case "INFO":
		return
	case "+OK":
		op = []byte("OK")
	case "-ERR":
		// nats-server traces the text without the quotes it sends.
		if n := len(arg); n >= 2 && arg[0] == '\'' && arg[n-1] == '\'' {
			arg = arg[1 : n-1]
		}
	}
	c.traceOut(string(op), arg)
}

func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// tracePayload logs a message's bytes (headers and payload) after its
// PUB or MSG line: "<<- MSG_PAYLOAD: ["hello"]", cut to MaxTracedMsgLen
// with "..." as nats-server does, or only the headers with TraceHeaders.
// An empty message is not traced.
func (c *conn) tracePayload(dir string, msg []byte, hdrLen int) {
	o := c.srv.o()
	if o.TraceHeaders {
		if hdrLen <= 0 || hdrLen > len(msg) {
			return
		}
		msg = msg[:hdrLen]
	}
	if len(msg) == 0 {
		return
	}
	cut := o.MaxTracedMsgLen > 0 && len(msg) > o.MaxTracedMsgLen
	if cut {
		msg = msg[:o.MaxTracedMsgLen]
	}
	q := strconv.Quote(string(msg))
	if cut {
		q = q[:len(q)-1] + `..."`
	}
	c.log.Log(TraceLevel, dir+" MSG_PAYLOAD: ["+q+"]")
}

// tracePub traces a PUB or HPUB as the client sent it, then its payload.
func (c *client) tracePub(subject, reply []byte, hdrLen int, msg []byte) {
	op := "PUB"
	b := append(make([]byte, 0, len(subject)+len(reply)+24), subject...)
	if len(reply) > 0 {
		b = append(append(b, ' '), reply...)
	}
	if hdrLen >= 0 {
		op = "HPUB"
		b = strconv.AppendInt(append(b, ' '), int64(hdrLen), 10)
	}
	b = strconv.AppendInt(append(b, ' '), int64(len(msg)), 10)
	c.traceIn(op, b)
	c.tracePayload("<<-", msg, hdrLen)
}

// traceDeliver traces a MSG or HMSG queued to the client, then its
// payload.
func (c *client) traceDeliver(sub *mux.Sub, m *mux.Msg, hdr []byte) {
	line := appendMsgLine(nil, sub.SID, m.Subject, m.Reply, len(hdr), len(hdr)+len(m.Payload), hdr != nil)
	c.traceOutLine(line)
	if c.srv.o().TraceHeaders || len(m.Payload) == 0 {
		c.tracePayload("->>", hdr, len(hdr))
		return
	}
	c.tracePayload("->>", append(append(make([]byte, 0, len(hdr)+len(m.Payload)), hdr...), m.Payload...), len(hdr))
}

// joinArgs joins an op's non-empty arguments with spaces, for a trace.
func joinArgs(args ...[]byte) []byte {
	var b []byte
	for _, a := range args {
		if len(a) == 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, a...)
	}
	return b
}

// secretField matches a CONNECT field whose value must not reach a log:
// any key starting with "pass" or "auth_token", and exactly "sig",
// "proxy_sig" or "nkey" (the keys nats-server redacts), in any case, as
// the CONNECT decoder matches keys. Group 2 is the value, a JSON string or
// a bare token.
var secretField = regexp.MustCompile(`(?i)"(pass[^"]*|auth_token[^"]*|sig|proxy_sig|nkey)"\s*:\s*("(?:[^"\\]|\\.)*"?|[^,}\s]*)`)

// redactSecrets returns the CONNECT argument with the secret fields'
// values replaced by "[REDACTED]"; it copies only when there is one.
func redactSecrets(arg []byte) []byte {
	m := secretField.FindAllSubmatchIndex(arg, -1)
	if bytes.IndexByte(arg, '\\') >= 0 && !redactedAll(arg, len(m)) {
		// A key spelled with escapes ("p\u0061ss") decodes to a secret
		// the pattern cannot see: trace none of it.
		return []byte(`{"[REDACTED]":"a secret key spelled with escapes"}`)
	}
	if m == nil {
		return arg
	}
	out := make([]byte, 0, len(arg))
	last := 0
	for _, sm := range m {
		out = append(out, arg[last:sm[4]]...)
		out = append(out, `"[REDACTED]"`...)
		last = sm[5]
	}
	return append(out, arg[last:]...)
}

// redactedAll reports whether the pattern found every secret key the
// CONNECT decoder would see (matched of them); what does not decode as an
// object has none.
func redactedAll(arg []byte, matched int) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(arg, &fields) != nil {
		return true
	}
	n := 0
	for k := range fields {
		if secretField.MatchString(`"` + k + `":""`) {
			n++
		}
	}
	return n <= matched
}

// traceSystem logs the broker's internal system traffic when
// TraceVerbose is on (nats-server's -VV): what the system responder
// receives ("->> [MSG ...]") and publishes ("<<- [PUB ...]").
func (sys *System) traceSystem(dir, op, account, subject, reply string, size int) {
	if o := sys.srv.o(); !o.Trace || !o.TraceVerbose {
		return
	}
	arg := subject
	if reply != "" {
		arg += " " + reply
	}
	sys.log.Log(TraceLevel, dir+op+" "+arg+" "+strconv.Itoa(size)+"]", zap.String("account", account))
}
