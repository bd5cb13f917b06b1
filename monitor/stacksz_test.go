package monitor_test

import (
	"strings"
	"testing"

	"github.com/murmurmq/murmur/monitor"
)

// TestStacksz: /stacksz is every goroutine's stack as text, the monitor's
// own serving goroutine among them.
func TestStacksz(t *testing.T) {
	srv := startBroker(t, "stacks")
	m := startMonitor(t, srv, monitor.Config{})
	resp, body := get(t, client(t), m, "/stacksz")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/stacksz: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	text := string(body)
	if !strings.HasPrefix(text, "goroutine ") || strings.Count(text, "\ngoroutine ") < 2 || !strings.Contains(text, "monitor.(*Server).serveStacks") {
		t.Fatalf("/stacksz is not a full goroutine dump:\n%.2000s", text)
	}
}
