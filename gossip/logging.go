package gossip

import (
	"bytes"
	"log"
	"sync"
	"time"

	"go.uber.org/zap"
)

// newMemberlistLogger returns a *log.Logger for memberlist that writes each
// line into l at debug level. memberlist prefixes its lines with a level tag
// ("[WARN] memberlist: ..."); the tag is kept as the field "ml_level" so
// operators can still filter on it. memberlist's errors are mostly peers
// misbehaving or lost packets, hence debug; the two that mean "a peer is
// misconfigured" (refusals) are also reported at warn, at most once a
// minute each.
func newMemberlistLogger(l *zap.Logger) *log.Logger {
	return log.New(&zapWriter{l: l.Named("memberlist"), warn: l, limiter: newLogLimiter(time.Minute)}, "", 0)
}

// refusals maps memberlist messages to the warning gossip logs for them.
var refusals = []struct{ substr, warning string }{
	{"unacceptable label", "gossip: refused traffic from a node of another cluster (Cluster differs)"},
	{"no installed keys could decrypt", "gossip: refused traffic that no installed key decrypts (SecretKey differs, or the peer has none)"},
}

type zapWriter struct {
	l       *zap.Logger
	warn    *zap.Logger
	limiter *logLimiter
}

// Write implements io.Writer; log.Logger calls it once per line.
func (w *zapWriter) Write(p []byte) (int, error) {
	for _, r := range refusals {
		if bytes.Contains(p, []byte(r.substr)) && w.limiter.allow(r.substr) {
			w.warn.Warn(r.warning, zap.ByteString("detail", bytes.TrimSpace(p)))
		}
	}
	if ce := w.l.Check(zap.DebugLevel, ""); ce == nil {
		return len(p), nil // debug disabled: skip the parsing
	}
	line := bytes.TrimRight(p, "\n")
	level := ""
	if len(line) > 0 && line[0] == '[' {
		if i := bytes.IndexByte(line, ']'); i > 0 {
			level = string(line[1:i])
			line = bytes.TrimLeft(line[i+1:], " ")
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.l.Debug(string(line), zap.String("ml_level", level))
	return len(p), nil
}

// logLimiter lets one message per key through per period, so that a
// misconfigured peer that retries every second does not flood the log.
type logLimiter struct {
	mu     sync.Mutex
	period time.Duration
	last   map[string]time.Time
}

func newLogLimiter(period time.Duration) *logLimiter {
	return &logLimiter{period: period, last: make(map[string]time.Time)}
}

// allow reports whether a message for key may be logged now.
func (r *logLimiter) allow(key string) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[key]; ok && now.Sub(t) < r.period {
		return false
	}
	if len(r.last) > 1024 { // bound memory against a flood of names
		clear(r.last)
	}
	r.last[key] = now
	return true
}
