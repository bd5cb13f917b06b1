package jetstream

import (
	"bytes"
	"strings"
)

// header returns the value of key in a NATS/1.0 header block ("" when
// absent). Keys compare case-insensitively.
func header(hdr []byte, key string) string {
	// Walked in place: a publish looks up several headers (Nats-Msg-Id,
	// the expected-* ones, Nats-Rollup, Nats-TTL) and must not allocate
	// for each.
	i := bytes.Index(hdr, crlf)
	if i < 0 {
		return ""
	}
	for rest := hdr[i+2:]; len(rest) > 0; {
		line := rest
		if j := bytes.Index(rest, crlf); j >= 0 {
			line, rest = rest[:j], rest[j+2:]
		} else {
			rest = nil
		}
		k := bytes.IndexByte(line, ':')
		if k > 0 && strings.EqualFold(string(bytes.TrimSpace(line[:k])), key) {
			return string(bytes.TrimSpace(line[k+1:]))
		}
	}
	return ""
}

var crlf = []byte("\r\n")

// The headers a publisher sets (nats-server's JSMsgId and friends).
const (
	hdrMsgID           = "Nats-Msg-Id"
	hdrExpectedStream  = "Nats-Expected-Stream"
	hdrExpectedLastSeq = "Nats-Expected-Last-Sequence"
	hdrExpectedSubjSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedLastID  = "Nats-Expected-Last-Msg-Id"
	hdrRollup          = "Nats-Rollup"
)

// statusMsg is a header-only status message (a pull request's 404, 408,
// 409 or 100).
func statusMsg(code int, text string, kv ...string) []byte {
	var b strings.Builder
	b.WriteString("NATS/1.0 ")
	b.WriteString(itoa(code))
	b.WriteString(" ")
	b.WriteString(text)
	b.WriteString("\r\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ": " + kv[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// appendHeaders returns hdr's block with the key/value pairs added at
// its end, or a new NATS/1.0 block with them when hdr holds none.
func appendHeaders(hdr []byte, kv ...string) []byte {
	var b strings.Builder
	if h := strings.TrimSuffix(string(hdr), "\r\n"); strings.HasSuffix(h, "\r\n") {
		b.WriteString(h) // the block without its closing empty line
	} else {
		b.WriteString("NATS/1.0\r\n")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ": " + kv[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// setHeader sets key to value in a NATS/1.0 header block (replacing an
// earlier value), making the block when there is none.
func setHeader(hdr []byte, key, value string) []byte {
	if len(hdr) == 0 {
		return appendHeaders(nil, key, value)
	}
	lines := strings.Split(strings.TrimSuffix(string(hdr), "\r\n\r\n"), "\r\n")
	var b strings.Builder
	b.WriteString(lines[0] + "\r\n")
	for _, l := range lines[1:] {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		if l != "" {
			b.WriteString(l + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return appendHeaders([]byte(b.String()), key, value)
}
