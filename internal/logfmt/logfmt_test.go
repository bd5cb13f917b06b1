package logfmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// at is 03:04:05.123456 in a zone one hour east of UTC.
var at = time.Date(2026, 12, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))

func line(t *testing.T, enc zapcore.Encoder, ent zapcore.Entry, fields ...zapcore.Field) string {
	t.Helper()
	if ent.Time.IsZero() {
		ent.Time = at
	}
	b, err := enc.EncodeEntry(ent, fields)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	return b.String()
}

func TestTextGoldenPerLevel(t *testing.T) {
	enc := NewText(Options{Time: true, PID: 4172})
	for _, c := range []struct {
		lvl  zapcore.Level
		want string
	}{
		{TraceLevel, "[4172] 2026/12/02 03:04:05.123456 [TRC] m\n"},
		{zapcore.DebugLevel, "[4172] 2026/12/02 03:04:05.123456 [DBG] m\n"},
		{zapcore.InfoLevel, "[4172] 2026/12/02 03:04:05.123456 [INF] m\n"},
		{zapcore.WarnLevel, "[4172] 2026/12/02 03:04:05.123456 [WRN] m\n"},
		{zapcore.ErrorLevel, "[4172] 2026/12/02 03:04:05.123456 [ERR] m\n"},
		{zapcore.DPanicLevel, "[4172] 2026/12/02 03:04:05.123456 [FTL] m\n"},
		{zapcore.FatalLevel, "[4172] 2026/12/02 03:04:05.123456 [FTL] m\n"},
	} {
		if got := line(t, enc, zapcore.Entry{Level: c.lvl, Message: "m"}); got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.lvl, got, c.want)
		}
	}
}

func TestTextTimeOptions(t *testing.T) {
	ent := zapcore.Entry{Level: zapcore.InfoLevel, Message: "Server is ready"}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Time: false, PID: 7}, "[7] [INF] Server is ready\n"},
		{Options{Time: true, UTC: true, PID: 7}, "[7] 2026/12/02 02:04:05.123456 [INF] Server is ready\n"},
		{Options{Time: true}, "2026/12/02 03:04:05.123456 [INF] Server is ready\n"},
		{Options{NoLevel: true}, "Server is ready\n"},
	} {
		if got := line(t, NewText(c.o), ent); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.o, got, c.want)
		}
	}
}

type point struct{ x, y int }

func (p point) MarshalLogObject(e zapcore.ObjectEncoder) error {
	e.AddInt("x", p.x)
	e.AddInt("y", p.y)
	return nil
}

func TestTextFields(t *testing.T) {
	enc := NewText(Options{})
	joined := errors.Join(errors.New("dial tcp 10.0.0.2:6222: connection refused"), errors.New("route closed"))
	for _, c := range []struct {
		name   string
		fields []zapcore.Field
		want   string
	}{
		{"plain", []zapcore.Field{zap.String("server", "edge-1"), zap.Int("port", 4222), zap.Bool("tls", false)},
			"[INF] m server=edge-1 port=4222 tls=false\n"},
		{"quoted", []zapcore.Field{zap.String("reason", "Slow Consumer (Pending Bytes)"), zap.String("empty", "")},
			`[INF] m reason="Slow Consumer (Pending Bytes)" empty=""` + "\n"},
		{"duration", []zapcore.Field{zap.Duration("rtt", 1500*time.Microsecond), zap.Duration("retry_in", 2*time.Second)},
			"[INF] m rtt=1.5ms retry_in=2s\n"},
		{"error on one line", []zapcore.Field{zap.Error(joined)},
			`[INF] m error="dial tcp 10.0.0.2:6222: connection refused; route closed"` + "\n"},
		{"verbose error dropped", []zapcore.Field{zap.Error(fmtErr{})},
			"[INF] m error=short\n"},
		{"array and object", []zapcore.Field{zap.Strings("flags", []string{"p", "a b"}), zap.Object("at", point{1, 2})},
			`[INF] m flags=[p,"a b"] at={x=1 y=2}` + "\n"},
		{"namespace", []zapcore.Field{zap.Namespace("tls"), zap.String("cipher", "aes")},
			"[INF] m tls.cipher=aes\n"},
		{"remote without cid stays a field", []zapcore.Field{zap.String("remote", "10.0.0.1:6222"), zap.String("route", "b")},
			"[INF] m route=b remote=10.0.0.1:6222\n"},
	} {
		if got := line(t, enc, zapcore.Entry{Level: zapcore.InfoLevel, Message: "m"}, c.fields...); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

type fmtErr struct{}

func (fmtErr) Error() string { return "short" }
func (fmtErr) Format(s fmt.State, verb rune) {
	fmt.Fprint(s, "short\nstack line 1\nstack line 2")
}

// A connection's logger (remote and cid) leads its lines as nats-server's
// "addr - cid:N - " does; the logger's other fields follow the message.
func TestTextConnectionPrefix(t *testing.T) {
	var sb strings.Builder
	core := zapcore.NewCore(NewText(Options{}), zapcore.AddSync(&sb), Enabler(false, true))
	log := zap.New(core).With(zap.String("server", "edge-1"))
	conn := log.With(zap.Uint64("cid", 5), zap.String("remote", "127.0.0.1:50312"))
	conn.Log(TraceLevel, `<<- [CONNECT {"verbose":false}]`)
	conn.Warn("slow consumer detected", zap.Duration("stall", 3*time.Millisecond))
	conn.Named("ws").Info("upgraded")
	conn.Debug("not shown: debug is off while trace is on")
	want := `[TRC] 127.0.0.1:50312 - cid:5 - <<- [CONNECT {"verbose":false}] server=edge-1` + "\n" +
		"[WRN] 127.0.0.1:50312 - cid:5 - slow consumer detected server=edge-1 stall=3ms\n" +
		"[INF] ws: 127.0.0.1:50312 - cid:5 - upgraded server=edge-1\n"
	if sb.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", sb.String(), want)
	}
}

func TestTextMessageOneLine(t *testing.T) {
	got := line(t, NewText(Options{}), zapcore.Entry{Level: zapcore.ErrorLevel, Message: "config refused:\n  a.conf:3:1: port: bad\r\n"})
	if want := "[ERR] config refused:; a.conf:3:1: port: bad\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestEnabler(t *testing.T) {
	for _, c := range []struct {
		debug, trace bool
		want         [3]bool // trace, debug, info enabled
	}{
		{false, false, [3]bool{false, false, true}},
		{true, false, [3]bool{false, true, true}},
		{false, true, [3]bool{true, false, true}},
		{true, true, [3]bool{true, true, true}},
	} {
		e := Enabler(c.debug, c.trace)
		got := [3]bool{e.Enabled(TraceLevel), e.Enabled(zapcore.DebugLevel), e.Enabled(zapcore.InfoLevel)}
		if got != c.want {
			t.Errorf("debug=%v trace=%v: got %v want %v", c.debug, c.trace, got, c.want)
		}
	}
}

func TestJSON(t *testing.T) {
	enc := NewJSON(Options{Time: true, UTC: true, PID: 9})
	got := line(t, enc, zapcore.Entry{Level: TraceLevel, Message: "<<- [PING]"},
		zap.Duration("rtt", 1500*time.Microsecond), zap.Error(errors.Join(errors.New("a"), errors.New("b"))))
	if strings.Count(got, "\n") != 1 {
		t.Fatalf("not one line: %q", got)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	want := map[string]any{"level": "trace", "time": "2026-12-02T02:04:05.123456789Z", "msg": "<<- [PING]", "pid": float64(9), "rtt": "1.5ms", "error": "a\nb"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: got %v want %v (%s)", k, m[k], v, got)
		}
	}
	if got := line(t, NewJSON(Options{}), zapcore.Entry{Level: zapcore.InfoLevel, Message: "m"}); got != `{"level":"info","msg":"m"}`+"\n" {
		t.Errorf("no time: %s", got)
	}
}
