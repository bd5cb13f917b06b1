//go:build unix

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murmurmq/murmur/internal/testutil"
)

// outcome is what a binary did with a command line.
type outcome string

const (
	listening  outcome = "listening" // started and accepted a client connection
	exitedOK   outcome = "exited 0"  // did its job and stopped (-v, -t)
	refusedRun outcome = "refused"   // stopped with an error, never listening
)

// flagCase is one command line tried on both binaries. args gets the
// client port and two free ports (for routes) to use.
type flagCase struct {
	name string
	args func(p flagPorts) []string
	// want is what both binaries do, unless murmur says otherwise;
	// differences carry why.
	want, murmur outcome
	why          string
}

type flagPorts struct {
	client, route, other int
	dir, cert, key, conf string
}

// TestFlagsSideBySide runs the same flags against our broker and
// nats-server v2.15 and compares what each accepted.
func TestFlagsSideBySide(t *testing.T) {
	ours, theirs := testutil.BrokerBinary(t), testutil.NatsServer(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	conf := filepath.Join(dir, "flags.conf")
	if err := os.WriteFile(conf, []byte("port: 4333\nmax_payload: 2MB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := func(port int) string { return fmt.Sprintf("nats://127.0.0.1:%d", port) }
	cases := []flagCase{
		{name: "user and pass", want: listening, args: func(flagPorts) []string { return []string{"--user", "a", "--pass", "b"} }},
		{name: "token", want: listening, args: func(flagPorts) []string { return []string{"--auth", "tok"} }},
		{name: "-DV", want: listening, args: func(flagPorts) []string { return []string{"-DV"} }},
		{name: "-VV -T=false --logtime_utc", want: listening, args: func(flagPorts) []string { return []string{"-VV", "-T=false", "--logtime_utc"} }},
		{name: "--net and --server_name", want: listening, args: func(flagPorts) []string { return []string{"--net", "127.0.0.1", "--server_name", "x"} }},
		{name: "routes and cluster URL", want: listening, args: func(p flagPorts) []string {
			return []string{"--cluster", url(p.route), "--routes", url(p.other), "--cluster_name", "c"}
		}},
		{name: "cluster_listen, no_advertise, connect_retries", want: listening, args: func(p flagPorts) []string {
			return []string{"--cluster_listen", url(p.route), "--no_advertise", "--connect_retries", "3", "--cluster_advertise", fmt.Sprintf("127.0.0.1:%d", p.route)}
		}},
		{name: "routes without a cluster", want: refusedRun, args: func(p flagPorts) []string { return []string{"--routes", url(p.other)} }},
		{name: "client_advertise", want: listening, args: func(flagPorts) []string { return []string{"--client_advertise", "10.0.0.1:4222"} }},
		{name: "ports_file_dir", want: listening, args: func(p flagPorts) []string { return []string{"--ports_file_dir", p.dir} }},
		{name: "tls with a certificate", want: listening, args: func(p flagPorts) []string { return []string{"--tls", "--tlscert", p.cert, "--tlskey", p.key} }},
		{name: "tls without a certificate", want: refusedRun, args: func(flagPorts) []string { return []string{"--tls"} }},
		{name: "-v", want: exitedOK, args: func(flagPorts) []string { return []string{"-v"} }},
		{name: "-t -c file", want: exitedOK, args: func(p flagPorts) []string { return []string{"-t", "-c", p.conf} }},
		{name: "-t without a file", want: refusedRun, args: func(flagPorts) []string { return []string{"-t"} }},
		{name: "unknown flag", want: refusedRun, args: func(flagPorts) []string { return []string{"--bogus"} }},
		{name: "-ms without TLS", want: refusedRun, args: func(p flagPorts) []string { return []string{"-ms", fmt.Sprint(p.other)} }},
		{
			name: "max_payload with a suffix", want: refusedRun, murmur: listening,
			why:  "Murmur's own flag (nats-server sets max_payload only in the file)",
			args: func(flagPorts) []string { return []string{"--max_payload", "2MB"} },
		},
		{
			name: "cluster as host:port", want: refusedRun, murmur: listening,
			why:  "Murmur's --cluster takes host:port as well as nats-server's URL",
			args: func(p flagPorts) []string { return []string{"--cluster", fmt.Sprintf("127.0.0.1:%d", p.route)} },
		},
		{
			name: "-js", want: listening,
			args: func(p flagPorts) []string { return []string{"-js", "-sd", p.dir} },
		},
		{
			name: "--profile", want: listening, why: "pprof on its own port, as nats-server",
			args: func(p flagPorts) []string { return []string{"--profile", fmt.Sprint(p.other)} },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mine := tc.want
			if tc.murmur != "" {
				mine = tc.murmur
			}
			// Murmur's defaults would bind the monitor and gossip ports.
			got, out := tryFlags(t, ours, tc, []string{"-m", "0", "--gossip_port", "0"}, cert, key, conf)
			if got != mine {
				t.Errorf("murmur: %s, want %s (%s)\n%s", got, mine, tc.why, out)
			}
			got, out = tryFlags(t, theirs, tc, nil, cert, key, conf)
			if got != tc.want {
				t.Errorf("nats-server: %s, want %s\n%s", got, tc.want, out)
			}
		})
	}
}

// tryFlags runs bin with the case's flags on free ports and reports what
// it did, with its output.
func tryFlags(t *testing.T, bin string, tc flagCase, extra []string, cert, key, conf string) (outcome, string) {
	t.Helper()
	p := flagPorts{client: testutil.FreePort(t), route: testutil.FreePort(t), other: testutil.FreePort(t), dir: t.TempDir(), cert: cert, key: key, conf: conf}
	args := append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(p.client)}, extra...)
	cmd := exec.Command(bin, append(args, tc.args(p)...)...)
	var log testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	var got outcome
	testutil.Eventually(t, 10*time.Second, filepath.Base(bin)+" to listen or exit", func() bool {
		select {
		case err := <-done:
			done <- err
			var exit *exec.ExitError
			switch {
			// nats-server exits 0 after "flag provided but not defined" and its usage.
			case errors.As(err, &exit), strings.Contains(log.String(), "flag provided but not defined"):
				got = refusedRun
			case err != nil:
				t.Fatal(err)
			default:
				got = exitedOK
			}
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.client), 100*time.Millisecond)
		if err == nil {
			c.Close()
			got = listening
		}
		return err == nil
	})
	return got, log.String()
}
