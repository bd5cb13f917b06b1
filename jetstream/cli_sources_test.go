package jetstream_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// TestCLISources: the nats CLI creates a work queue, a mirror with
// --mirror and a source with --source, and reads their info.
func TestCLISources(t *testing.T) {
	cli := testutil.Tool(t, "nats", "go install github.com/nats-io/natscli/nats@v0.5.0")
	n := startNode(t, t.TempDir())
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--server", n.srv.ClientURL(), "--timeout", "5s"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("stream", "add", "O", "--subjects", "o.>", "--retention", "work", "--defaults")
	for i := 0; i < 3; i++ {
		run("pub", "o.a", "x")
	}
	run("stream", "add", "M", "--mirror", "O", "--defaults")
	run("stream", "add", "S", "--source", "O", "--subjects", "s.>", "--defaults")
	testutil.Eventually(t, 5*time.Second, "mirror and source hold 3", func() bool {
		return strings.Contains(run("stream", "info", "M", "--json"), `"messages": 3`) &&
			strings.Contains(run("stream", "info", "S", "--json"), `"messages": 3`)
	})
	info := run("stream", "info", "M")
	for _, want := range []string{"Mirror Information", "Stream Name: O", "Messages: 3"} {
		if !strings.Contains(info, want) {
			t.Errorf("stream info M lacks %q:\n%s", want, info)
		}
	}
	info = run("stream", "info", "S")
	for _, want := range []string{"Source Information", "Stream Name: O"} {
		if !strings.Contains(info, want) {
			t.Errorf("stream info S lacks %q:\n%s", want, info)
		}
	}
	if !strings.Contains(run("stream", "info", "O"), "Retention: WorkQueue") {
		t.Error("work queue retention not shown")
	}
}
