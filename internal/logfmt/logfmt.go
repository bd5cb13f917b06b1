// Package logfmt renders zap entries the way nats-server writes its log,
// so an operator reads Murmur's log as they read nats-server's:
//
//	[4172] 2026/12/02 03:04:05.123456 [INF] listening for clients transport=tcp addr=0.0.0.0:4222
//	[4172] 2026/12/02 03:04:05.123781 [TRC] 127.0.0.1:50312 - cid:5 - <<- [CONNECT {"verbose":false,"pass":"[REDACTED]"}]
//
// A pid prefix, the date and time to the microsecond (nats-server's -T,
// local or UTC), a level tag ([TRC] [DBG] [INF] [WRN] [ERR] [FTL]), the
// message, then the structured fields as key=value. A connection's remote
// address and cid, when a logger carries both, lead the message as
// nats-server's "addr - cid:N - " does. Every entry is one line: newlines
// in the message or a value (a joined error) become "; ". Durations keep
// their units (1.5s). NewJSON is the same entries as JSON objects.
//
// The package is pure: it formats, it does no I/O.
package logfmt

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TraceLevel is below zap's DebugLevel: protocol tracing (-V), which
// nats-server tags [TRC] and enables independently of debug (-D).
const TraceLevel = zapcore.DebugLevel - 1

// Options are what nats-server's logging flags choose about one line.
type Options struct {
	// Time prefixes each entry with the date and time (nats-server's -T).
	Time bool
	// UTC writes that time in UTC instead of the local zone (logtime_utc).
	UTC bool
	// PID, when positive, prefixes each entry with "[pid] ".
	PID int
	// NoLevel leaves out the level tag (syslog carries the level itself).
	NoLevel bool
}

// Tag is nats-server's label for a level, with its trailing space.
func Tag(l zapcore.Level) string {
	switch {
	case l <= TraceLevel:
		return "[TRC] "
	case l == zapcore.DebugLevel:
		return "[DBG] "
	case l == zapcore.InfoLevel:
		return "[INF] "
	case l == zapcore.WarnLevel:
		return "[WRN] "
	case l == zapcore.ErrorLevel:
		return "[ERR] "
	default:
		return "[FTL] "
	}
}

// LevelName is a level's name in JSON logs: zap's names, with "trace".
func LevelName(l zapcore.Level) string {
	if l <= TraceLevel {
		return "trace"
	}
	return l.String()
}

// Enabler enables info and above, and debug and trace each on its own
// switch, as nats-server's -D and -V are independent.
func Enabler(debug, trace bool) zapcore.LevelEnabler {
	return zap.LevelEnablerFunc(func(l zapcore.Level) bool {
		switch {
		case l <= TraceLevel:
			return trace
		case l == zapcore.DebugLevel:
			return debug
		}
		return true
	})
}

// NewJSON returns zap's JSON encoder with the same choices: time (when
// o.Time) as RFC 3339 with nanoseconds, in UTC when o.UTC; levels by
// LevelName; durations as strings with units.
func NewJSON(o Options) zapcore.Encoder {
	cfg := zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "level",
		NameKey:        "logger",
		MessageKey:     "msg",
		StacktraceKey:  "stack",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    func(l zapcore.Level, e zapcore.PrimitiveArrayEncoder) { e.AppendString(LevelName(l)) },
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
		EncodeTime: func(t time.Time, e zapcore.PrimitiveArrayEncoder) {
			if o.UTC {
				t = t.UTC()
			}
			e.AppendString(t.Format(time.RFC3339Nano))
		},
	}
	if !o.Time {
		cfg.TimeKey = ""
	}
	if o.NoLevel {
		cfg.LevelKey = ""
	}
	enc := zapcore.NewJSONEncoder(cfg)
	if o.PID > 0 {
		enc.AddInt("pid", o.PID)
	}
	return enc
}
