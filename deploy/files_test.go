package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/murmurmq/murmur/internal/testutil"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// parseDockerfile splits a Dockerfile into instructions: comments and
// blank lines dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	return out
}

// TestDockerfile checks the image recipe's promises without a container
// engine: two stages, the binary built static by the release script, a
// scratch runtime running as a non-root user, every port exposed, a
// HEALTHCHECK that uses the binary's own probe, and a default command
// whose configuration the broker accepts.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, "Dockerfile")
	var froms, exposes []string
	var user, health, entry, cmd, run string
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
		case "EXPOSE":
			exposes = append(exposes, strings.Fields(in.args)...)
		case "USER":
			user = in.args
		case "HEALTHCHECK":
			health = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "CMD":
			cmd = in.args
		case "RUN":
			run += in.args + "\n"
		}
	}
	if len(froms) != 2 || !strings.HasSuffix(froms[0], " AS build") || froms[1] != "scratch" {
		t.Errorf("stages %q: want a build stage and scratch", froms)
	}
	if !strings.Contains(run, "scripts/release.sh") {
		t.Errorf("the build stage does not use scripts/release.sh (static, stamped):\n%s", run)
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("USER %q: want a non-root user", user)
	}
	for _, p := range []string{"4222", "8222", "6222", "4248", "4248/udp", "4224/udp", "8080"} {
		if !slices.Contains(exposes, p) {
			t.Errorf("EXPOSE lacks %s (have %v)", p, exposes)
		}
	}
	if !strings.Contains(health, `CMD ["/murmur", "--healthcheck", "http://127.0.0.1:8222/healthz"]`) {
		t.Errorf("HEALTHCHECK %q: want the binary's --healthcheck on /healthz", health)
	}
	if entry != `["/murmur"]` || cmd != `["-c", "/etc/murmur/murmur.conf"]` {
		t.Errorf("ENTRYPOINT %s CMD %s", entry, cmd)
	}
	brokerTest(t, ".", nil, "-c", "murmur.conf")
}

// brokerTest runs `murmur -t args` (check the configuration and flags,
// then exit) in dir with env added, as the deployment would start it.
func brokerTest(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	c := exec.Command(testutil.BrokerBinary(t), append([]string{"-t"}, args...)...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "is valid") {
		t.Errorf("murmur -t %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// testGossipKey is a valid key for configurations that read $MURMUR_GOSSIP_KEY.
const testGossipKey = "MURMUR_GOSSIP_KEY=cGFzc3dvcmRwYXNzd29yZHBhc3N3b3JkcGFzc3dvcmQ="

type composeFile struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		Hostname    string   `yaml:"hostname"`
		Command     []string `yaml:"command"`
		Ports       []string `yaml:"ports"`
		Volumes     []string `yaml:"volumes"`
		Environment []string `yaml:"environment"`
	} `yaml:"services"`
}

// TestComposeFile: three brokers of one image, each started with flags and
// a config the broker accepts, seeded with each other's names, with host
// ports that collide neither with each other nor with QUIC's 4224.
func TestComposeFile(t *testing.T) {
	var cf composeFile
	readYAML(t, "docker-compose.yml", &cf)
	if len(cf.Services) != 3 {
		t.Fatalf("%d services, want 3", len(cf.Services))
	}
	conf, err := os.ReadFile("compose/murmur.conf")
	if err != nil {
		t.Fatal(err)
	}
	hostPorts := map[string]string{}
	for name, s := range cf.Services {
		if s.Image != "murmur:local" || s.Hostname != name {
			t.Errorf("%s: image %q hostname %q", name, s.Image, s.Hostname)
		}
		if !strings.Contains(string(conf), `"`+name+`:4248"`) {
			t.Errorf("compose/murmur.conf: %s is not a gossip seed", name)
		}
		if !slices.Contains(s.Environment, "MURMUR_GOSSIP_KEY") {
			t.Errorf("%s: MURMUR_GOSSIP_KEY not passed through", name)
		}
		for _, p := range s.Ports {
			host, _, _ := strings.Cut(p, ":")
			proto := "tcp"
			if strings.HasSuffix(p, "/udp") {
				proto = "udp"
			}
			if other, dup := hostPorts[host+"/"+proto]; dup {
				t.Errorf("host port %s/%s used by %s and %s", host, proto, other, name)
			}
			hostPorts[host+"/"+proto] = name
			if host == "4224" && proto == "tcp" {
				t.Errorf("%s: host port 4224/tcp; 4224 is QUIC's", name)
			}
		}
		args := slices.Clone(s.Command)
		for i, a := range args {
			if a == "/etc/murmur/murmur.conf" {
				args[i] = "compose/murmur.conf"
			}
		}
		brokerTest(t, ".", []string{testGossipKey}, args...)
	}
	if hostPorts["4224/udp"] == "" {
		t.Errorf("no broker publishes QUIC on 4224/udp")
	}
}

// readYAML decodes one YAML document.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestSystemdUnit has systemd check the unit (systemd-analyze verify, with
// ExecStart pointed at a real binary) and score its sandbox (security
// --offline): the exposure must stay "OK" (under 2.5 of 10).
func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile("systemd/murmur.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{
		"ExecStart=/usr/local/bin/murmur -c /etc/murmur/murmur.conf", "ExecReload=/bin/kill -HUP $MAINPID",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes", "StateDirectory=murmur", "LimitNOFILE=",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("murmur.service lacks %q", want)
		}
	}
	sa := testutil.Tool(t, "systemd-analyze", "Debian package systemd")
	dir := t.TempDir()
	path := filepath.Join(dir, "murmur.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/murmur", testutil.BrokerBinary(t))), 0o644)
	if out, err := exec.Command(sa, "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(sa, "security", "--offline=true", "--threshold=25", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure over 2.5 (%v):\n%s", err, out)
	}
}
