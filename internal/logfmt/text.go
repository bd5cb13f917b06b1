package logfmt

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

var pool = buffer.NewPool()

// NewText returns the nats-server style line encoder (see the package
// comment).
func NewText(o Options) zapcore.Encoder {
	return &textEncoder{o: o, buf: pool.Get()}
}

// textEncoder accumulates a logger's fields, rendered, in buf; an entry
// clones it and adds the entry's own. The connection fields (remote, cid)
// are kept aside: together they become the nats-server prefix.
type textEncoder struct {
	o      Options
	buf    *buffer.Buffer // " key=value" for each field so far
	ns     string         // namespace prefix for keys ("ns.")
	remote string
	cid    string
}

func (e *textEncoder) Clone() zapcore.Encoder { return e.clone() }

func (e *textEncoder) clone() *textEncoder {
	c := *e
	c.buf = pool.Get()
	c.buf.Write(e.buf.Bytes())
	return &c
}

// EncodeEntry writes one line: [pid] time [TAG] name: remote - cid:N - message fields.
func (e *textEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	c := e.clone()
	defer c.buf.Free()
	for _, f := range fields {
		f.AddTo(c)
	}
	out := pool.Get()
	if e.o.PID > 0 {
		out.AppendByte('[')
		out.AppendInt(int64(e.o.PID))
		out.AppendString("] ")
	}
	if e.o.Time {
		t := ent.Time
		if e.o.UTC {
			t = t.UTC()
		}
		out.AppendTime(t, "2006/01/02 15:04:05.000000")
		out.AppendByte(' ')
	}
	if !e.o.NoLevel {
		out.AppendString(Tag(ent.Level))
	}
	if ent.LoggerName != "" {
		out.AppendString(ent.LoggerName)
		out.AppendString(": ")
	}
	if c.cid != "" {
		if c.remote != "" {
			out.AppendString(c.remote)
			out.AppendString(" - ")
		}
		out.AppendString("cid:")
		out.AppendString(c.cid)
		out.AppendString(" - ")
	}
	out.AppendString(oneLine(ent.Message))
	out.Write(c.buf.Bytes())
	if c.cid == "" && c.remote != "" {
		out.AppendString(" remote=")
		appendValue(out, c.remote)
	}
	if ent.Stack != "" {
		out.AppendString(" stack=")
		appendValue(out, ent.Stack)
	}
	out.AppendByte('\n')
	return out, nil
}

// oneLine joins the lines of s with "; ", dropping blank ones, so every
// entry stays on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var parts []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// appendValue writes s bare when it is one plain token, quoted otherwise.
func appendValue(b *buffer.Buffer, s string) {
	s = oneLine(s)
	if needsQuote(s) {
		b.AppendString(strconv.Quote(s))
		return
	}
	b.AppendString(s)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == '"' || c == '=' || c == 0x7f {
			return true
		}
	}
	return !utf8.ValidString(s)
}

func (e *textEncoder) addKey(k string) {
	e.buf.AppendByte(' ')
	e.buf.AppendString(e.ns)
	e.buf.AppendString(k)
	e.buf.AppendByte('=')
}

// errorVerbose (zap's %+v of an error) is multi-line detail the error's
// own text already states; it stays out of a one-line log.
func skipped(k string) bool { return strings.HasSuffix(k, "Verbose") }

func (e *textEncoder) AddString(k, v string) {
	switch {
	case e.ns == "" && k == "remote":
		e.remote = v
	case skipped(k):
	default:
		e.addKey(k)
		appendValue(e.buf, v)
	}
}

func (e *textEncoder) AddUint64(k string, v uint64) {
	if e.ns == "" && k == "cid" {
		e.cid = strconv.FormatUint(v, 10)
		return
	}
	e.addKey(k)
	e.buf.AppendUint(v)
}

func (e *textEncoder) AddArray(k string, m zapcore.ArrayMarshaler) error {
	e.addKey(k)
	return appendArray(e.buf, m)
}

func (e *textEncoder) AddObject(k string, m zapcore.ObjectMarshaler) error {
	e.addKey(k)
	return appendObject(e.buf, m)
}

func (e *textEncoder) AddBinary(k string, v []byte) {
	e.addKey(k)
	e.buf.AppendString(base64.StdEncoding.EncodeToString(v))
}

func (e *textEncoder) AddByteString(k string, v []byte) { e.AddString(k, string(v)) }
func (e *textEncoder) AddBool(k string, v bool)         { e.addKey(k); e.buf.AppendBool(v) }
func (e *textEncoder) AddComplex128(k string, v complex128) {
	e.addKey(k)
	e.buf.AppendString(strconv.FormatComplex(v, 'g', -1, 128))
}
func (e *textEncoder) AddComplex64(k string, v complex64) { e.AddComplex128(k, complex128(v)) }
func (e *textEncoder) AddDuration(k string, v time.Duration) {
	e.addKey(k)
	e.buf.AppendString(v.String())
}
func (e *textEncoder) AddFloat64(k string, v float64) { e.addKey(k); appendFloat(e.buf, v, 64) }
func (e *textEncoder) AddFloat32(k string, v float32) {
	e.addKey(k)
	appendFloat(e.buf, float64(v), 32)
}
func (e *textEncoder) AddInt(k string, v int)     { e.AddInt64(k, int64(v)) }
func (e *textEncoder) AddInt64(k string, v int64) { e.addKey(k); e.buf.AppendInt(v) }
func (e *textEncoder) AddInt32(k string, v int32) { e.AddInt64(k, int64(v)) }
func (e *textEncoder) AddInt16(k string, v int16) { e.AddInt64(k, int64(v)) }
func (e *textEncoder) AddInt8(k string, v int8)   { e.AddInt64(k, int64(v)) }
func (e *textEncoder) AddTime(k string, v time.Time) {
	e.addKey(k)
	e.buf.AppendTime(v, time.RFC3339Nano)
}
func (e *textEncoder) AddUint(k string, v uint)       { e.AddUint64(k, uint64(v)) }
func (e *textEncoder) AddUint32(k string, v uint32)   { e.AddUint64(k, uint64(v)) }
func (e *textEncoder) AddUint16(k string, v uint16)   { e.AddUint64(k, uint64(v)) }
func (e *textEncoder) AddUint8(k string, v uint8)     { e.AddUint64(k, uint64(v)) }
func (e *textEncoder) AddUintptr(k string, v uintptr) { e.AddUint64(k, uint64(v)) }
func (e *textEncoder) AddReflected(k string, v any) error {
	e.addKey(k)
	return appendReflected(e.buf, v)
}
func (e *textEncoder) OpenNamespace(k string) { e.ns += k + "." }

func appendFloat(b *buffer.Buffer, f float64, bits int) {
	switch {
	case math.IsNaN(f):
		b.AppendString("NaN")
	case math.IsInf(f, 1):
		b.AppendString("+Inf")
	case math.IsInf(f, -1):
		b.AppendString("-Inf")
	default:
		b.AppendFloat(f, bits)
	}
}

func appendReflected(b *buffer.Buffer, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(j)
	return nil
}

// appendArray writes [a,b,c]; strings inside follow the value rules.
func appendArray(b *buffer.Buffer, m zapcore.ArrayMarshaler) error {
	b.AppendByte('[')
	err := m.MarshalLogArray(&arrayEncoder{b: b})
	b.AppendByte(']')
	return err
}

// appendObject writes {k=v k=v}.
func appendObject(b *buffer.Buffer, m zapcore.ObjectMarshaler) error {
	inner := &textEncoder{buf: pool.Get()}
	defer inner.buf.Free()
	err := m.MarshalLogObject(inner)
	if inner.remote != "" {
		inner.addKey("remote")
		appendValue(inner.buf, inner.remote)
	}
	if inner.cid != "" {
		inner.addKey("cid")
		inner.buf.AppendString(inner.cid)
	}
	b.AppendByte('{')
	b.AppendString(strings.TrimPrefix(inner.buf.String(), " "))
	b.AppendByte('}')
	return err
}

// arrayEncoder writes an array's elements, comma-separated, into b.
type arrayEncoder struct {
	b *buffer.Buffer
	n int
}

func (a *arrayEncoder) sep() {
	if a.n > 0 {
		a.b.AppendByte(',')
	}
	a.n++
}

func (a *arrayEncoder) AppendBool(v bool)         { a.sep(); a.b.AppendBool(v) }
func (a *arrayEncoder) AppendByteString(v []byte) { a.AppendString(string(v)) }
func (a *arrayEncoder) AppendComplex128(v complex128) {
	a.sep()
	a.b.AppendString(strconv.FormatComplex(v, 'g', -1, 128))
}
func (a *arrayEncoder) AppendComplex64(v complex64)    { a.AppendComplex128(complex128(v)) }
func (a *arrayEncoder) AppendFloat64(v float64)        { a.sep(); appendFloat(a.b, v, 64) }
func (a *arrayEncoder) AppendFloat32(v float32)        { a.sep(); appendFloat(a.b, float64(v), 32) }
func (a *arrayEncoder) AppendInt(v int)                { a.AppendInt64(int64(v)) }
func (a *arrayEncoder) AppendInt64(v int64)            { a.sep(); a.b.AppendInt(v) }
func (a *arrayEncoder) AppendInt32(v int32)            { a.AppendInt64(int64(v)) }
func (a *arrayEncoder) AppendInt16(v int16)            { a.AppendInt64(int64(v)) }
func (a *arrayEncoder) AppendInt8(v int8)              { a.AppendInt64(int64(v)) }
func (a *arrayEncoder) AppendString(v string)          { a.sep(); appendValue(a.b, v) }
func (a *arrayEncoder) AppendUint(v uint)              { a.AppendUint64(uint64(v)) }
func (a *arrayEncoder) AppendUint64(v uint64)          { a.sep(); a.b.AppendUint(v) }
func (a *arrayEncoder) AppendUint32(v uint32)          { a.AppendUint64(uint64(v)) }
func (a *arrayEncoder) AppendUint16(v uint16)          { a.AppendUint64(uint64(v)) }
func (a *arrayEncoder) AppendUint8(v uint8)            { a.AppendUint64(uint64(v)) }
func (a *arrayEncoder) AppendUintptr(v uintptr)        { a.AppendUint64(uint64(v)) }
func (a *arrayEncoder) AppendDuration(v time.Duration) { a.sep(); a.b.AppendString(v.String()) }
func (a *arrayEncoder) AppendTime(v time.Time)         { a.sep(); a.b.AppendTime(v, time.RFC3339Nano) }
func (a *arrayEncoder) AppendArray(m zapcore.ArrayMarshaler) error {
	a.sep()
	return appendArray(a.b, m)
}
func (a *arrayEncoder) AppendObject(m zapcore.ObjectMarshaler) error {
	a.sep()
	return appendObject(a.b, m)
}
func (a *arrayEncoder) AppendReflected(v any) error {
	a.sep()
	return appendReflected(a.b, v)
}
