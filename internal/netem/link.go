// Package netem is a lossy, slow network link between two Linux network
// namespaces, made in user space: for kernels built without the sch_netem
// qdisc. Each namespace gets a TUN device with one address of a /30; a
// pair of goroutines copies the IP packets between the two devices with a
// one-way delay (and optional jitter), seeded random loss and an optional
// bandwidth cap, in each direction. Processes run inside a namespace with
// Link.Command (`ip netns exec`); the test process itself reaches them
// with Link.Dial, whose sockets are made inside a namespace.
//
// It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2's `ip` and
// /dev/net/tun; Check says why not when they are missing. It is test and
// bench infrastructure: only tests and bench/ import it.
package netem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Side names one end of a Link.
type Side int

// The two ends.
const (
	A Side = iota
	B
)

func (s Side) String() string { return string(rune('a' + int(s))) }

// The /30 of every link. Each link's devices live in namespaces of their
// own, so every link can use the same addresses.
const (
	IPA = "10.99.0.1"
	IPB = "10.99.0.2"
)

// Prefix starts the name of every namespace this package makes, followed
// by the creating process's pid: "mnetem-<pid>-<n><side>". New removes
// those of processes that no longer exist.
const Prefix = "mnetem-"

// Config shapes each direction of the link (both directions alike).
type Config struct {
	// Delay is the one-way delay added to every packet, in each direction:
	// the round trip gains twice this.
	Delay time.Duration
	// Jitter spreads each packet's delay uniformly over Delay ± Jitter,
	// without reordering (a packet never leaves before the one ahead).
	Jitter time.Duration
	// Loss is the probability in [0, 1) that a packet is dropped, drawn
	// independently per packet and direction.
	Loss float64
	// Rate caps each direction at this many bytes per second (0: none).
	Rate int64
	// Limit is the most packets held in a direction (delayed or waiting
	// for the bandwidth cap); more are dropped. 0 means DefaultLimit.
	Limit int
	// Seed seeds the loss and jitter draws, so a run can be repeated.
	Seed int64
	// MTU of both TUN devices (0: 1500).
	MTU int
	// TCPCongestion, when set, is the TCP congestion control of both
	// namespaces (net.ipv4.tcp_congestion_control: "cubic", "bbr",
	// "reno"); a new namespace otherwise takes the host's default. The
	// kernel lets a namespace other than the host's choose only among
	// net.ipv4.tcp_allowed_congestion_control, so New adds it to the
	// host's list when it is missing (and leaves it there).
	TCPCongestion string
}

// DefaultLimit is netem's default queue limit, in packets; raised so that
// a delay of tens of milliseconds at LAN speed does not overflow.
const DefaultLimit = 20000

// Link is two namespaces joined by the relay. Close it (also when a test
// fails: register it with t.Cleanup) to stop the relay and remove both
// namespaces; the processes started in them must be gone first.
type Link struct {
	ns    [2]string
	tun   [2]*os.File
	pipes [2]*pipe // pipes[A] carries A→B
	wg    sync.WaitGroup
	once  sync.Once
}

var linkSeq atomic.Int64

// Check reports why a Link cannot be made here (not root, no `ip`, no
// /dev/net/tun), or nil.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("netem: needs root for network namespaces and TUN devices (running as uid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netem: no `ip` command (Debian: apt-get install iproute2)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("netem: no TUN device: %w", err)
	}
	return nil
}

// New makes the namespaces, the TUN devices, their addresses (IPA in A,
// IPB in B, loopback up in both) and starts the relay. On error what was
// made is removed again.
func New(cfg Config) (_ *Link, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if cfg.Loss < 0 || cfg.Loss >= 1 || cfg.Delay < 0 || cfg.Jitter < 0 || cfg.Rate < 0 || cfg.Limit < 0 {
		return nil, fmt.Errorf("netem: invalid Config %+v", cfg)
	}
	if cfg.Limit == 0 {
		cfg.Limit = DefaultLimit
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.TCPCongestion != "" {
		if err := allowCongestion(cfg.TCPCongestion); err != nil {
			return nil, err
		}
	}
	RemoveStale()
	n := linkSeq.Add(1)
	l := &Link{}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	ips := [2]string{IPA, IPB}
	for s := range 2 {
		l.ns[s] = fmt.Sprintf("%s%d-%d%s", Prefix, os.Getpid(), n, Side(s))
		if err := run("ip", "netns", "add", l.ns[s]); err != nil {
			l.ns[s] = ""
			return nil, err
		}
		if l.tun[s], err = openTUN(l.path(Side(s)), "netem0"); err != nil {
			return nil, err
		}
		if cfg.TCPCongestion != "" {
			if err := inNamespace(l.path(Side(s)), func() error {
				return os.WriteFile("/proc/sys/net/ipv4/tcp_congestion_control", []byte(cfg.TCPCongestion), 0o644)
			}); err != nil {
				return nil, fmt.Errorf("netem: TCP congestion control %q: %w", cfg.TCPCongestion, err)
			}
		}
		for _, step := range [][]string{
			{"link", "set", "lo", "up"},
			{"link", "set", "netem0", "mtu", strconv.Itoa(cfg.MTU), "up"},
			{"addr", "add", ips[s] + "/30", "dev", "netem0"},
		} {
			if err := run("ip", append([]string{"-n", l.ns[s]}, step...)...); err != nil {
				return nil, err
			}
		}
	}
	l.pipes[A] = newPipe(l.tun[A], l.tun[B], cfg, 1)
	l.pipes[B] = newPipe(l.tun[B], l.tun[A], cfg, 2)
	for _, p := range l.pipes {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); p.read() }()
		go func() { defer l.wg.Done(); p.write() }()
	}
	return l, nil
}

// TCPCongestion reports the TCP congestion control in side s's namespace.
func (l *Link) TCPCongestion(s Side) (string, error) {
	var b []byte
	err := inNamespace(l.path(s), func() error {
		var err error
		b, err = os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		return err
	})
	return strings.TrimSpace(string(b)), err
}

// Namespace is the name of side s's namespace (for `ip netns exec`).
func (l *Link) Namespace(s Side) string { return l.ns[s] }

// IP is side s's address on the link.
func (l *Link) IP(s Side) string {
	if s == A {
		return IPA
	}
	return IPB
}

func (l *Link) path(s Side) string { return filepath.Join("/run/netns", l.ns[s]) }

// Command returns a command that runs name inside side s's namespace.
// `ip netns exec` execs the program, so the process's pid is name's; it
// dies with the caller (Pdeathsig), so a killed test leaves no broker
// holding a namespace.
func (l *Link) Command(s Side, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns[s], name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Dial connects from inside side s's namespace (the socket is made there,
// then used from anywhere in this process). address is an IP literal with
// a port: no name is looked up in the namespace.
func (l *Link) Dial(ctx context.Context, s Side, network, address string) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(l.path(s), func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Dialer returns a dialer into side s with the shape of nats.go's
// CustomDialer (Dial(network, address)), timing out after timeout.
func (l *Link) Dialer(s Side, timeout time.Duration) *Dialer {
	return &Dialer{l: l, s: s, timeout: timeout}
}

// Dialer dials from inside one side's namespace; see Link.Dialer.
type Dialer struct {
	l       *Link
	s       Side
	timeout time.Duration
}

// Dial connects to address from inside the dialer's namespace.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	return d.l.Dial(ctx, d.s, network, address)
}

// Stats counts one direction's packets since New.
type Stats struct {
	Packets   int64 // read from the sending side's device
	Bytes     int64 // their bytes
	Lost      int64 // dropped by the Loss draw
	Overflow  int64 // dropped because Limit packets were held
	Delivered int64 // written to the receiving side's device
}

// Stats reports the direction from side s to the other.
func (l *Link) Stats(from Side) Stats {
	st := &l.pipes[from].stats
	return Stats{Packets: st.packets.Load(), Bytes: st.bytes.Load(), Lost: st.lost.Load(), Overflow: st.overflow.Load(), Delivered: st.delivered.Load()}
}

// Close stops the relay, waits for its goroutines and removes both
// namespaces. It is safe to call more than once.
func (l *Link) Close() error {
	var errs []error
	l.once.Do(func() {
		for _, p := range l.pipes {
			if p != nil {
				close(p.stop)
			}
		}
		for _, f := range l.tun {
			if f != nil {
				f.Close() // wakes the readers
			}
		}
		l.wg.Wait()
		for _, ns := range l.ns {
			if ns != "" {
				errs = append(errs, run("ip", "netns", "del", ns))
			}
		}
	})
	return errors.Join(errs...)
}

// allowedCC is the host's list of congestion controls any namespace (and
// any unprivileged socket) may choose.
const allowedCC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"

// allowCongestion adds cc to the host's allowed list if it is not there.
// It runs on whatever thread the caller is on: every thread outside
// inNamespace is in the process's own (here: the host's) namespace.
func allowCongestion(cc string) error {
	b, err := os.ReadFile(allowedCC)
	if err != nil {
		return fmt.Errorf("netem: %w", err)
	}
	list := strings.Fields(string(b))
	if slices.Contains(list, cc) {
		return nil
	}
	if err := os.WriteFile(allowedCC, []byte(strings.Join(append(list, cc), " ")), 0o644); err != nil {
		return fmt.Errorf("netem: allow TCP congestion control %q (is its module loaded?): %w", cc, err)
	}
	return nil
}

// RemoveStale deletes the namespaces this package made in processes that
// no longer run (a test binary killed before its cleanup ran).
func RemoveStale() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), Prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			_ = run("ip", "netns", "del", e.Name())
		}
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
