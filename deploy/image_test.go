//go:build linux

package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.yaml.in/yaml/v3"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/internal/testutil"
)

// podmanEnv makes podman work in a sandbox without systemd: runc (crun
// refuses hybrid cgroups) and ulimits no higher than this process's own
// (the default asks for more than an unprivileged sandbox may set). The
// returned environment carries it to podman and podman-compose.
func podmanEnv(t *testing.T) []string {
	t.Helper()
	var nofile, nproc syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	syscall.Getrlimit(6 /* RLIMIT_NPROC */, &nproc)
	np := min(nproc.Cur, 4096)
	conf := fmt.Sprintf("[containers]\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n[engine]\nruntime = \"runc\"\n",
		nofile.Cur, nofile.Cur, np, np)
	path := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "CONTAINERS_CONF="+path)
}

// run runs a command with env and returns its output, failing the test
// if it fails.
func run(t *testing.T, env []string, dir string, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Env, c.Dir = env, dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// builderImage makes the build stage's base from this machine's Go
// toolchain and a static busybox (for sh), since no image registry is
// reachable here: GO_IMAGE stands in for golang:1.26. The modules and the
// build cache come from the host through mounts (GOPROXY=off).
func builderImage(t *testing.T, env []string, podman string) string {
	t.Helper()
	tag := "localhost/murmur-test-go:" + strings.TrimPrefix(runtime.Version(), "go")
	if exec.Command(podman, "image", "exists", tag).Run() == nil {
		return tag
	}
	busybox := testutil.Tool(t, "busybox", "Debian package busybox-static")
	st := t.TempDir()
	for _, d := range []string{"bin", "etc/ssl/certs", "tmp", "usr/local"} {
		os.MkdirAll(filepath.Join(st, d), 0o755)
	}
	os.Chmod(filepath.Join(st, "tmp"), 0o1777)
	run(t, env, "", "cp", busybox, filepath.Join(st, "bin/busybox"))
	for _, a := range strings.Fields(run(t, env, "", busybox, "--list")) {
		os.Symlink("busybox", filepath.Join(st, "bin", a))
	}
	run(t, env, "", "cp", "/etc/ssl/certs/ca-certificates.crt", filepath.Join(st, "etc/ssl/certs/"))
	run(t, env, "", "cp", "-a", runtime.GOROOT(), filepath.Join(st, "usr/local/go"))
	os.WriteFile(filepath.Join(st, "Containerfile"), []byte("FROM scratch\nCOPY . /\n"+
		"ENV PATH=/usr/local/go/bin:/bin GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off GOMODCACHE=/gomodcache GOCACHE=/gocache\n"), 0o644)
	run(t, env, st, podman, "build", "-q", "-t", tag, ".")
	return tag
}

const imageTag = "localhost/murmur:test"

// TestImage builds deploy/Dockerfile with podman and runs the image: it
// serves clients on its published port, its HEALTHCHECK passes, it runs
// as a non-root user, -v shows the stamped commit, and `podman stop`
// (SIGTERM) ends it with status 0. Then deploy/docker-compose.yml starts
// three brokers of it that form one cluster by gossip.
func TestImage(t *testing.T) {
	podman := testutil.Tool(t, "podman", "deploy/testdata/install-podman.sh")
	testutil.Tool(t, "runc", "deploy/testdata/install-podman.sh")
	env := podmanEnv(t)
	goEnv := func(k string) string { return strings.TrimSpace(run(t, env, "", "go", "env", k)) }
	build := builderImage(t, env, podman)
	// The build stage's `go mod download` (GOPROXY=off) needs every
	// module of the graph in the mounted cache, not only those the host's
	// builds fetched.
	run(t, env, "..", "go", "mod", "download")
	run(t, env, "..", podman, "build", "--format", "docker", "--isolation", "chroot", "--network", "host",
		"-f", "deploy/Dockerfile", "--build-arg", "GO_IMAGE="+build,
		"--build-arg", "COMMIT=0123abcd-test", "--build-arg", "VERSION=0.0.0-image",
		"-v", goEnv("GOMODCACHE")+":/gomodcache", "-v", goEnv("GOCACHE")+":/gocache", "-t", imageTag, ".")

	var inspect []struct {
		Config struct {
			User         string
			ExposedPorts map[string]any
			Entrypoint   []string
		}
		Healthcheck struct{ Test []string } // podman reports it beside Config
	}
	if err := json.Unmarshal([]byte(run(t, env, "", podman, "image", "inspect", imageTag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("image inspect: %v", err)
	}
	cfg := inspect[0].Config
	if cfg.User != "65532:65532" {
		t.Errorf("image user %q", cfg.User)
	}
	for _, p := range []string{"4222/tcp", "8222/tcp", "6222/tcp", "4248/tcp", "4248/udp", "4224/udp", "8080/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s: %v", p, cfg.ExposedPorts)
		}
	}
	if !slices.Equal(inspect[0].Healthcheck.Test, []string{"CMD", "/murmur", "--healthcheck", "http://127.0.0.1:8222/healthz"}) {
		t.Errorf("healthcheck %q", inspect[0].Healthcheck.Test)
	}
	if v := run(t, env, "", podman, "run", "--rm", imageTag, "-v"); !strings.Contains(v, "murmur version 0.0.0-image (nats-server "+broker.ServerVersion+" level), commit 0123abc") {
		t.Errorf("-v in the image: %q", v)
	}

	t.Run("run", func(t *testing.T) { runImage(t, env, podman) })
	t.Run("compose", func(t *testing.T) { runCompose(t, env, podman) })
}

// runImage starts one container with published ports and uses it.
func runImage(t *testing.T, env []string, podman string) {
	name := fmt.Sprintf("murmur-test-%d", os.Getpid())
	cp, mp := testutil.FreePort(t), testutil.FreePort(t)
	run(t, env, "", podman, "run", "-d", "--name", name, "--health-interval", "disable",
		"-p", fmt.Sprintf("127.0.0.1:%d:4222", cp), "-p", fmt.Sprintf("127.0.0.1:%d:8222", mp), imageTag)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(podman, "logs", name).CombinedOutput()
			t.Logf("container log:\n%s", out)
		}
		exec.Command(podman, "rm", "-f", name).Run()
	})
	waitHealthy(t, fmt.Sprintf("127.0.0.1:%d", mp))
	nc := dial(t, fmt.Sprintf("nats://127.0.0.1:%d", cp))
	roundTrip(t, nc, nc, "image.hello")
	if out := run(t, env, "", podman, "healthcheck", "run", name); strings.Contains(out, "unhealthy") {
		t.Errorf("healthcheck: %s", out)
	}
	if u := strings.TrimSpace(run(t, env, "", podman, "exec", name, "/murmur", "--healthcheck", "127.0.0.1:8222")); u != "" {
		t.Errorf("--healthcheck in the container printed %q", u)
	}
	run(t, env, "", podman, "stop", "-t", "20", name)
	if code := strings.TrimSpace(run(t, env, "", podman, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit status after podman stop (SIGTERM): %s", code)
	}
}

// runCompose brings deploy/docker-compose.yml up with podman-compose, its
// host ports moved to free loopback ones, and waits for one cluster.
func runCompose(t *testing.T, env []string, podman string) {
	compose := testutil.Tool(t, "podman-compose", "deploy/testdata/install-podman.sh")
	var doc map[string]any
	readYAML(t, "docker-compose.yml", &doc)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "compose"), 0o755)
	conf, _ := os.ReadFile("compose/murmur.conf")
	os.WriteFile(filepath.Join(dir, "compose/murmur.conf"), conf, 0o644)
	monitors, clients := map[string]string{}, map[string]string{}
	for name, s := range doc["services"].(map[string]any) {
		svc := s.(map[string]any)
		delete(svc, "build") // the image is built above
		var ports []any
		for _, p := range svc["ports"].([]any) {
			_, inner, _ := strings.Cut(p.(string), ":")
			hp := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			switch inner {
			case "8222":
				monitors[name] = hp
			case "4222":
				clients[name] = "nats://" + hp
			}
			ports = append(ports, hp+":"+inner)
		}
		svc["ports"] = ports
	}
	delete(doc, "x-broker")
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "docker-compose.yml")
	os.WriteFile(file, out, 0o644)
	project := fmt.Sprintf("murmurtest%d", os.Getpid())
	env = append(env, "MURMUR_GOSSIP_KEY=cGFzc3dvcmRwYXNzd29yZHBhc3N3b3JkcGFzc3dvcmQ=")
	run(t, env, "", podman, "tag", imageTag, "murmur:local")
	t.Cleanup(func() {
		if t.Failed() {
			for name := range monitors {
				out, _ := exec.Command(podman, "logs", project+"_"+name+"_1").CombinedOutput()
				t.Logf("--- %s ---\n%s", name, out)
			}
		}
		c := exec.Command(compose, "-p", project, "-f", file, "down", "-t", "5")
		c.Env = env
		c.Run()
		exec.Command(podman, "network", "rm", "-f", project+"_default").Run()
	})
	run(t, env, dir, compose, "-p", project, "-f", file, "up", "-d")
	if len(monitors) != 3 || len(clients) != 3 {
		t.Fatalf("monitors %v clients %v", monitors, clients)
	}
	for name, m := range monitors {
		waitHealthy(t, m)
		testutil.Eventually(t, 30*time.Second, name+" to route to the other two", func() bool {
			var rz struct {
				NumRoutes int `json:"num_routes"`
			}
			resp, err := http.Get("http://" + m + "/routez")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return json.Unmarshal(body, &rz) == nil && rz.NumRoutes == 2
		})
	}
	roundTrip(t, dial(t, clients["murmur-2"]), dial(t, clients["murmur-3"]), "compose.hello")
}

// waitHealthy waits until the monitor at hostport answers /healthz 200.
func waitHealthy(t *testing.T, hostport string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, hostport+" /healthz", func() bool {
		resp, err := http.Get("http://" + hostport + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

// roundTrip publishes on pub until sub, subscribed to subject, gets it.
func roundTrip(t *testing.T, pub, sub *nats.Conn, subject string) {
	t.Helper()
	s, err := sub.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	testutil.Eventually(t, 10*time.Second, "a message on "+subject, func() bool {
		pub.Publish(subject, []byte("hi"))
		_, err := s.NextMsg(100 * time.Millisecond)
		return err == nil
	})
}
