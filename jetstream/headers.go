package jetstream

import (
	"bytes"
	"strings"
)

// header returns the value of key in a NATS/1.0 header block ("" when
// absent). Keys compare case-insensitively.
func header(hdr []byte, key string) string {
	if len(hdr) == 0 {
		return ""
	}
	lines := bytes.Split(hdr, []byte("\r\n"))
	for _, l := range lines[1:] {
		i := bytes.IndexByte(l, ':')
		if i <= 0 {
			continue
		}
		if strings.EqualFold(string(bytes.TrimSpace(l[:i])), key) {
			return string(bytes.TrimSpace(l[i+1:]))
		}
	}
	return ""
}

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

// setHeader sets key to value in a NATS/1.0 header block (replacing an
// earlier value), making the block when there is none.
func setHeader(hdr []byte, key, value string) []byte {
	var b strings.Builder
	if len(hdr) == 0 {
		b.WriteString("NATS/1.0\r\n")
	} else {
		lines := strings.Split(strings.TrimSuffix(string(hdr), "\r\n\r\n"), "\r\n")
		b.WriteString(lines[0] + "\r\n")
		for _, l := range lines[1:] {
			if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), key) {
				continue
			}
			if l != "" {
				b.WriteString(l + "\r\n")
			}
		}
	}
	b.WriteString(key + ": " + value + "\r\n\r\n")
	return []byte(b.String())
}
