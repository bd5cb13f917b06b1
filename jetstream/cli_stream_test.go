package jetstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// cliScenario runs the nats CLI's stream and consumer commands against the
// server at url and returns what it observed, to compare between Murmur
// and nats-server.
func cliScenario(t *testing.T, natsCLI, url string) []string {
	t.Helper()
	home := t.TempDir() // no contexts of the user's
	run := func(args ...string) string {
		t.Helper()
		c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(c, natsCLI, append([]string{"-s", url, "--timeout", "5s"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: nats %s: %v\n%s", url, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var seen []string
	note := func(format string, a ...any) { seen = append(seen, fmt.Sprintf(format, a...)) }

	run("stream", "add", "ORDERS", "--subjects", "orders.>", "--storage", "file", "--max-msgs", "100", "--defaults")
	for i := 1; i <= 5; i++ {
		run("pub", fmt.Sprintf("orders.%d", i), fmt.Sprintf("order %d", i))
	}
	var si struct {
		Config struct {
			Name     string   `json:"name"`
			Subjects []string `json:"subjects"`
			MaxMsgs  int64    `json:"max_msgs"`
			Storage  string   `json:"storage"`
		} `json:"config"`
		State struct {
			Msgs     uint64 `json:"messages"`
			FirstSeq uint64 `json:"first_seq"`
			LastSeq  uint64 `json:"last_seq"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(run("stream", "info", "ORDERS", "--json")), &si); err != nil {
		t.Fatal(err)
	}
	note("stream info: %+v %+v", si.Config, si.State)
	info := run("stream", "info", "ORDERS")
	for _, want := range []string{"Subjects: orders.>", "Messages: 5", "Maximum Messages: 100", "Storage: File"} {
		note("stream info shows %q: %v", want, strings.Contains(info, want))
	}
	note("stream ls has ORDERS: %v", strings.Contains(run("stream", "ls", "--names"), "ORDERS"))

	run("consumer", "add", "ORDERS", "C", "--pull", "--ack", "explicit", "--deliver", "all", "--filter", "orders.>", "--defaults")
	got := run("consumer", "next", "ORDERS", "C", "--count", "2", "--raw")
	note("consumer next --count 2: %q", strings.Fields(got))
	got = run("consumer", "next", "ORDERS", "C", "--raw")
	note("consumer next: %q", strings.TrimSpace(got))
	var ci struct {
		AckFloor struct {
			Stream uint64 `json:"stream_seq"`
		} `json:"ack_floor"`
		Delivered struct {
			Stream uint64 `json:"stream_seq"`
		} `json:"delivered"`
		NumPending uint64 `json:"num_pending"`
		AckPending int    `json:"num_ack_pending"`
	}
	if err := json.Unmarshal([]byte(run("consumer", "info", "ORDERS", "C", "--json")), &ci); err != nil {
		t.Fatal(err)
	}
	note("consumer info after 3 acked: %+v", ci)
	got = run("consumer", "next", "ORDERS", "C", "--no-ack", "--raw")
	note("consumer next --no-ack: %q", strings.TrimSpace(got))
	if err := json.Unmarshal([]byte(run("consumer", "info", "ORDERS", "C", "--json")), &ci); err != nil {
		t.Fatal(err)
	}
	note("consumer info with one unacked: %+v", ci)
	note("consumer ls has C: %v", strings.Contains(run("consumer", "ls", "ORDERS", "--names"), "C"))

	run("consumer", "rm", "ORDERS", "C", "-f")
	run("stream", "rm", "ORDERS", "-f")
	note("stream ls after rm: %q", strings.TrimSpace(run("stream", "ls", "--names")))
	return seen
}

// TestCLIStreamsAndConsumers runs the nats CLI's stream add/info/ls/rm and
// consumer add/next/info/ls/rm against the broker process and against
// nats-server 2.15 and expects the same observations from both.
func TestCLIStreamsAndConsumers(t *testing.T) {
	natsCLI := testutil.Tool(t, "nats", testutil.InstallNatsCLI)
	ours := cliScenario(t, natsCLI, startBrokerJS(t))
	ref := startNatsServer(t)
	theirs := cliScenario(t, natsCLI, ref.ConnectedUrl())
	for i := range max(len(ours), len(theirs)) {
		var a, b string
		if i < len(ours) {
			a = ours[i]
		}
		if i < len(theirs) {
			b = theirs[i]
		}
		if a != b {
			t.Errorf("Murmur:      %s\nnats-server: %s", a, b)
		} else {
			t.Log(a)
		}
	}
}
