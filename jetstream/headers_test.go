package jetstream

import "testing"

func TestHeaderLookup(t *testing.T) {
	hdr := []byte("NATS/1.0\r\nNats-Msg-Id: a1\r\nnats-ttl:  5s \r\nX: y: z\r\n\r\n")
	for _, c := range []struct{ key, want string }{
		{"Nats-Msg-Id", "a1"}, {"NATS-TTL", "5s"}, {"X", "y: z"}, {"Missing", ""}, {"NATS/1.0", ""},
	} {
		if got := header(hdr, c.key); got != c.want {
			t.Errorf("header(%q) = %q, want %q", c.key, got, c.want)
		}
	}
	if got := header([]byte("NATS/1.0\r\nA: b"), "A"); got != "b" {
		t.Errorf("unterminated last line: %q", got)
	}
	if got := header(nil, "A"); got != "" {
		t.Errorf("no header: %q", got)
	}
	if got := string(setHeader(hdr, "nats-ttl", "7")); got != "NATS/1.0\r\nNats-Msg-Id: a1\r\nX: y: z\r\nnats-ttl: 7\r\n\r\n" {
		t.Errorf("setHeader: %q", got)
	}
	if got := string(appendHeaders(nil, "A", "1", "B", "2")); got != "NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n" {
		t.Errorf("appendHeaders on none: %q", got)
	}
}
