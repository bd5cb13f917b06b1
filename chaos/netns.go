package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// network is the chaos run's private network: one Linux network namespace
// per broker, each joined by a veth pair to a bridge in the root
// namespace that holds the subnet's .1 address, so the harness's clients
// (in the root namespace) reach every broker at 10.77.<k>.<10+i>. Names
// carry a random run id and the subnet is one no route uses yet, so
// parallel runs do not collide. Faults are applied inside a broker's
// namespace: nftables drops for partitions and loss, and a 200 ms delay on
// its outbound packets (tc netem where the kernel has it, else an NFQUEUE
// the harness holds packets in, see delay.go).
type network struct {
	id     string // run id, 4 hex digits
	subnet int    // k in 10.77.k.0/24
	n      int
	netem  bool // the kernel has sch_netem

	mu      sync.Mutex
	made    []func() error // undo steps, run in reverse by close
	delays  map[int]*delayer
	state   []linkState
	logf    func(format string, args ...any)
	nextQID uint16
}

// linkState is what is applied to one broker's namespace now.
type linkState struct {
	partitioned bool
	degraded    bool
}

// errNoNetns says the harness cannot build its network here (not root, no
// iproute2 or nft, no namespaces): the caller reports it and skips.
var errNoNetns = errors.New("chaos: cannot create network namespaces")

// checkNetns reports why namespaces cannot be used here, or nil.
func checkNetns() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (running as uid %d)", errNoNetns, os.Geteuid())
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (Debian: apt-get install iproute2 nftables)", errNoNetns, tool)
		}
	}
	probe := "mchaos-probe-" + randomID()
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: ip netns add: %v: %s", errNoNetns, err, strings.TrimSpace(string(out)))
	}
	defer exec.Command("ip", "netns", "del", probe).Run()
	return nil
}

func randomID() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newNetwork builds the bridge and n namespaces. On error what was built
// is removed again.
func newNetwork(n int, logf func(string, ...any)) (_ *network, err error) {
	nw := &network{id: randomID(), n: n, delays: map[int]*delayer{}, state: make([]linkState, n), logf: logf, nextQID: 7700}
	defer func() {
		if err != nil {
			nw.close()
		}
	}()
	if nw.subnet, err = freeSubnet(); err != nil {
		return nil, err
	}
	br := nw.bridge()
	if err := nw.do(func() error { return sh("ip", "link", "del", br) }, "ip", "link", "add", br, "type", "bridge"); err != nil {
		return nil, err
	}
	if err := sh("ip", "addr", "add", nw.gateway()+"/24", "dev", br); err != nil {
		return nil, err
	}
	if err := sh("ip", "link", "set", br, "up"); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if err := nw.addNamespace(i); err != nil {
			return nil, err
		}
	}
	nw.netem = nw.probeNetem()
	return nw, nil
}

// freeSubnet picks k such that no route of the root namespace covers
// 10.77.k.0/24.
func freeSubnet() (int, error) {
	out, err := exec.Command("ip", "-4", "route", "show").Output()
	if err != nil {
		return 0, fmt.Errorf("ip route: %w", err)
	}
	var b [1]byte
	_, _ = rand.Read(b[:])
	for j := 0; j < 200; j++ {
		k := 20 + (int(b[0])+j)%200
		if !strings.Contains(string(out), fmt.Sprintf("10.77.%d.", k)) {
			return k, nil
		}
	}
	return 0, errors.New("chaos: no free 10.77.k.0/24 subnet")
}

func (nw *network) bridge() string        { return "mcb" + nw.id }
func (nw *network) gateway() string       { return fmt.Sprintf("10.77.%d.1", nw.subnet) }
func (nw *network) ns(i int) string       { return fmt.Sprintf("mchaos-%s-%d", nw.id, i) }
func (nw *network) rootVeth(i int) string { return fmt.Sprintf("mcv%sb%d", nw.id, i) }

// IP is broker i's address.
func (nw *network) IP(i int) string { return fmt.Sprintf("10.77.%d.%d", nw.subnet, 10+i) }

func (nw *network) addNamespace(i int) error {
	ns, veth, peer := nw.ns(i), nw.rootVeth(i), fmt.Sprintf("mcp%sb%d", nw.id, i)
	if err := nw.do(func() error { return sh("ip", "netns", "del", ns) }, "ip", "netns", "add", ns); err != nil {
		return err
	}
	if err := nw.do(func() error { return sh("ip", "link", "del", veth) }, "ip", "link", "add", veth, "type", "veth", "peer", "name", peer); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "link", "set", peer, "netns", ns},
		{"ip", "link", "set", veth, "master", nw.bridge(), "up"},
		{"ip", "-n", ns, "link", "set", peer, "name", "eth0"},
		{"ip", "-n", ns, "addr", "add", nw.IP(i) + "/24", "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "route", "add", "default", "via", nw.gateway()},
		// The fault table: chains that partitions and loss add rules to.
		{"ip", "netns", "exec", ns, "nft", "add table inet chaos"},
		{"ip", "netns", "exec", ns, "nft", "add chain inet chaos input { type filter hook input priority 0; policy accept; }"},
		{"ip", "netns", "exec", ns, "nft", "add chain inet chaos output { type filter hook output priority 0; policy accept; }"},
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}

// probeNetem reports whether tc netem works (it is a kernel module many
// small VMs' kernels lack).
func (nw *network) probeNetem() bool {
	err := sh("ip", "netns", "exec", nw.ns(0), "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
	if err == nil {
		_ = sh("ip", "netns", "exec", nw.ns(0), "tc", "qdisc", "del", "dev", "lo", "root")
		return true
	}
	return false
}

// Exec returns a command that runs inside broker i's namespace. `ip netns
// exec` execs the program, so the process's pid is the program's.
func (nw *network) Exec(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nw.ns(i), name}, args...)...)
}

// others is the nft set of every broker address but i's.
func (nw *network) others(i int) string {
	var ips []string
	for j := 0; j < nw.n; j++ {
		if j != i {
			ips = append(ips, nw.IP(j))
		}
	}
	return "{ " + strings.Join(ips, ", ") + " }"
}

// Partition drops every packet between broker i and the other brokers
// (both directions, silently: a blackhole, not a reset). Its clients in
// the root namespace still reach it.
func (nw *network) Partition(i int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	ns := nw.ns(i)
	if err := sh("ip", "netns", "exec", ns, "nft", "add rule inet chaos input ip saddr "+nw.others(i)+" counter drop comment \"partition\""); err != nil {
		return err
	}
	if err := sh("ip", "netns", "exec", ns, "nft", "add rule inet chaos output ip daddr "+nw.others(i)+" counter drop comment \"partition\""); err != nil {
		return err
	}
	nw.state[i].partitioned = true
	return nil
}

// Degrade delays broker i's outbound packets by 200 ms and drops 5 % of
// its packets in each direction: every link it has, to brokers and clients.
func (nw *network) Degrade(i int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	ns := nw.ns(i)
	for _, chain := range []string{"input", "output"} {
		if err := sh("ip", "netns", "exec", ns, "nft", "add rule inet chaos "+chain+" numgen random mod 100 < 5 counter drop comment \"loss\""); err != nil {
			return err
		}
	}
	if nw.netem {
		if err := sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "200ms"); err != nil {
			return err
		}
	} else {
		nw.nextQID++
		d, err := startDelayer(ns, nw.nextQID, delay200, nw.logf)
		if err != nil {
			return err
		}
		nw.delays[i] = d
		if err := sh("ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-o", "eth0", "-j", "NFQUEUE", "--queue-num", fmt.Sprint(nw.nextQID), "--queue-bypass"); err != nil {
			return err
		}
	}
	nw.state[i].degraded = true
	return nil
}

// Heal removes every fault from broker i's namespace.
func (nw *network) Heal(i int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	ns := nw.ns(i)
	var errs []error
	for _, chain := range []string{"input", "output"} {
		errs = append(errs, sh("ip", "netns", "exec", ns, "nft", "flush chain inet chaos "+chain))
	}
	if nw.state[i].degraded {
		if nw.netem {
			errs = append(errs, sh("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root"))
		} else {
			errs = append(errs, sh("ip", "netns", "exec", ns, "iptables", "-F", "OUTPUT"))
			if d := nw.delays[i]; d != nil {
				d.stop() // releases what it still holds
				delete(nw.delays, i)
			}
		}
	}
	nw.state[i] = linkState{}
	return errors.Join(errs...)
}

// DelayMode says how the 200 ms delay is made.
func (nw *network) DelayMode() string {
	if nw.netem {
		return "tc netem"
	}
	return "nfqueue (no sch_netem in this kernel)"
}

// do runs a creating command and, when it succeeded, remembers undo.
func (nw *network) do(undo func() error, args ...string) error {
	if err := sh(args...); err != nil {
		return err
	}
	nw.mu.Lock()
	nw.made = append(nw.made, undo)
	nw.mu.Unlock()
	return nil
}

// close removes every namespace, veth and the bridge (the broker
// processes must be gone: a namespace lives on while a process is in it).
func (nw *network) close() error {
	nw.mu.Lock()
	for i, d := range nw.delays {
		d.stop()
		delete(nw.delays, i)
	}
	made := nw.made
	nw.made = nil
	nw.mu.Unlock()
	var errs []error
	for j := len(made) - 1; j >= 0; j-- {
		if err := made[j](); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sh runs a command, returning its output in the error.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
