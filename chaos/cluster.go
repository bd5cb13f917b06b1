package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Ports every broker uses; each has its own namespace and address, so
// they are the same for all.
const (
	clientPort  = 4222
	routePort   = 6222
	gossipPort  = 4248
	monitorPort = 8222
)

// cluster runs the broker processes, each in its own namespace.
type cluster struct {
	nw   *network
	bin  string // the broker binary
	dir  string // configs and logs
	name string // cluster name
	cred string // route credential
	logf func(string, ...any)

	brokers []*brokerProc
	http    *http.Client
}

// brokerProc is one broker: the same name, address, ports and config file
// across restarts.
type brokerProc struct {
	idx  int
	name string
	ip   string
	conf string
	log  *os.File

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has exited
	gen    int           // config generation (reloads)
	starts int
}

// buildBroker builds cmd/broker into dir once.
func buildBroker(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "broker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/broker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/broker: %v\n%s", err, out)
	}
	return bin, nil
}

func newCluster(nw *network, bin, dir string, logf func(string, ...any)) (*cluster, error) {
	c := &cluster{
		nw: nw, bin: bin, dir: dir, logf: logf,
		name: "chaos-" + nw.id, cred: "chaos-" + randomID() + randomID(),
		http: &http.Client{Timeout: time.Second},
	}
	for i := 0; i < nw.n; i++ {
		b := &brokerProc{idx: i, name: fmt.Sprintf("b%d", i), ip: nw.IP(i), conf: filepath.Join(dir, fmt.Sprintf("b%d.conf", i))}
		f, err := os.OpenFile(filepath.Join(dir, b.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		b.log = f
		if err := b.writeConf(); err != nil {
			return nil, err
		}
		c.brokers = append(c.brokers, b)
	}
	return c, nil
}

// maxPayload is what config generation gen sets: reloads alternate it, and
// /varz shows whether a reload took.
func maxPayload(gen int) int { return (1 + gen%2) << 20 }

// writeConf writes the broker's config file for its current generation:
// the settings a reload may change live in the file, the rest in flags
// (flags override the file, so nothing in both).
func (b *brokerProc) writeConf() error {
	conf := fmt.Sprintf(`# chaos harness, generation %d
max_payload: %d
ping_interval: "1s"
ping_max: 3
write_deadline: "2s"
lame_duck_duration: "500ms"
lame_duck_grace_period: "100ms"
`, b.gen, maxPayload(b.gen))
	return os.WriteFile(b.conf, []byte(conf), 0o644)
}

func (c *cluster) args(b *brokerProc) []string {
	var seeds []string
	for _, o := range c.brokers {
		if o != b {
			seeds = append(seeds, fmt.Sprintf("%s:%d", o.ip, gossipPort))
		}
	}
	return []string{
		"-c", b.conf,
		"-a", b.ip, "-p", fmt.Sprint(clientPort), "-n", b.name,
		"--http_addr", b.ip, "-m", fmt.Sprint(monitorPort),
		"--cluster", fmt.Sprintf("%s:%d", b.ip, routePort), "--cluster_name", c.name,
		"--route_credential", c.cred,
		"--gossip_addr", b.ip, "--gossip_port", fmt.Sprint(gossipPort),
		"--gossip_seeds", strings.Join(seeds, ","),
	}
}

// start starts broker i and waits until it accepts clients.
func (c *cluster) start(ctx context.Context, i int) error {
	b := c.brokers[i]
	b.mu.Lock()
	cmd := c.nw.Exec(i, c.bin, c.args(b)...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	fmt.Fprintf(b.log, "=== chaos: start %d of %s at %s\n", b.starts+1, b.name, time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		return fmt.Errorf("start %s: %w", b.name, err)
	}
	exited := make(chan struct{})
	b.cmd, b.exited = cmd, exited
	b.starts++
	b.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	addr := net.JoinHostPort(b.ip, fmt.Sprint(clientPort))
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting (see %s.log)", b.name, b.name)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting clients on %s after 15 s", b.name, addr)
		}
	}
}

// signal sends sig to broker i's current process.
func (c *cluster) signal(i int, sig syscall.Signal) error {
	b := c.brokers[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return fmt.Errorf("%s not running", b.name)
	}
	return b.cmd.Process.Signal(sig)
}

// pid is broker i's current process id.
func (c *cluster) pid(i int) int {
	b := c.brokers[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// waitExit waits up to d for broker i's process to exit.
func (c *cluster) waitExit(i int, d time.Duration) bool {
	b := c.brokers[i]
	b.mu.Lock()
	exited := b.exited
	b.mu.Unlock()
	if exited == nil {
		return true
	}
	select {
	case <-exited:
		return true
	case <-time.After(d):
		return false
	}
}

// kill ends broker i with SIGKILL (after SIGCONT, should it be stopped)
// and waits for it.
func (c *cluster) kill(i int) {
	_ = c.signal(i, syscall.SIGCONT)
	_ = c.signal(i, syscall.SIGKILL)
	c.waitExit(i, 10*time.Second)
}

// lameDuck asks broker i to enter lame-duck mode the way an operator does,
// with `broker --signal ldm=<pid>`.
func (c *cluster) lameDuck(i int) error {
	pid := c.pid(i)
	out, err := exec.Command(c.bin, "--signal", fmt.Sprintf("ldm=%d", pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("broker --signal ldm=%d: %v: %s", pid, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// reload writes broker i's next config generation and sends SIGHUP; it
// returns the max_payload the broker should now report.
func (c *cluster) reload(i int) (int, error) {
	b := c.brokers[i]
	b.mu.Lock()
	b.gen++
	err := b.writeConf()
	want := maxPayload(b.gen)
	b.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return want, c.signal(i, syscall.SIGHUP)
}

// stopAll ends every broker process.
func (c *cluster) stopAll() {
	for i := range c.brokers {
		c.kill(i)
	}
	for _, b := range c.brokers {
		b.log.Close()
	}
}

// URL is broker i's client URL.
func (c *cluster) URL(i int) string { return fmt.Sprintf("nats://%s:%d", c.brokers[i].ip, clientPort) }

// URLs lists broker i's URL first, then the others in order: clients of
// broker i prefer it and fail over to the rest.
func (c *cluster) URLs(i int) []string {
	urls := []string{c.URL(i)}
	for j := range c.brokers {
		if j != i {
			urls = append(urls, c.URL(j))
		}
	}
	return urls
}

// monitor fetches one monitoring document of broker i into v.
func (c *cluster) monitor(i int, path string, v any) error {
	resp, err := c.http.Get(fmt.Sprintf("http://%s:%d%s", c.brokers[i].ip, monitorPort, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

type routez struct {
	Routes []struct {
		Rid        uint64    `json:"rid"`
		RemoteName string    `json:"remote_name"`
		Start      time.Time `json:"start"`
	} `json:"routes"`
}

// routeIDs lists every broker's routes as "broker->peer#rid", sorted: two
// snapshots that differ show a route replaced between them.
func (c *cluster) routeIDs() []string {
	var out []string
	for i, b := range c.brokers {
		var rz routez
		if err := c.monitor(i, "/routez", &rz); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", b.name, err))
			continue
		}
		for _, r := range rz.Routes {
			out = append(out, fmt.Sprintf("%s->%s#%d", b.name, r.RemoteName, r.Rid))
		}
	}
	sort.Strings(out)
	return out
}

type gossipz struct {
	Members []struct {
		Name  string            `json:"name"` // the server id
		State string            `json:"state"`
		Meta  map[string]string `json:"metadata"`
	} `json:"members"`
}

type varz struct {
	MaxPayload  int `json:"max_payload"`
	Connections int `json:"connections"`
}

// meshProblem says what keeps the cluster from a full mesh with every
// gossip member alive, as broker monitors report it, or "" when there is
// nothing.
func (c *cluster) meshProblem() string {
	var want []string
	for _, b := range c.brokers {
		want = append(want, b.name)
	}
	for i, b := range c.brokers {
		var rz routez
		if err := c.monitor(i, "/routez", &rz); err != nil {
			return fmt.Sprintf("%s /routez: %v", b.name, err)
		}
		var got []string
		for _, r := range rz.Routes {
			got = append(got, r.RemoteName)
		}
		sort.Strings(got)
		if exp := without(want, b.name); strings.Join(got, ",") != strings.Join(exp, ",") {
			return fmt.Sprintf("%s routes to [%s], want [%s]", b.name, strings.Join(got, ","), strings.Join(exp, ","))
		}
		var gz gossipz
		if err := c.monitor(i, "/gossipz", &gz); err != nil {
			return fmt.Sprintf("%s /gossipz: %v", b.name, err)
		}
		// Gossip names members by server id, new at every restart: the
		// brokers' names are in the metadata, and a restarted broker's old
		// incarnation must no longer count as alive.
		alive := map[string]int{}
		for _, m := range gz.Members {
			if m.State == "alive" {
				alive[m.Meta["name"]]++
			}
		}
		for _, n := range want {
			if alive[n] != 1 {
				return fmt.Sprintf("%s sees %d alive gossip members named %s", b.name, alive[n], n)
			}
		}
	}
	return ""
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

// waitMaxPayload waits until broker i reports want in /varz.
func (c *cluster) waitMaxPayload(ctx context.Context, i, want int, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last varz
	for time.Now().Before(deadline) {
		if err := c.monitor(i, "/varz", &last); err == nil && last.MaxPayload == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: max_payload %d after reload, want %d", c.brokers[i].name, last.MaxPayload, want)
}
