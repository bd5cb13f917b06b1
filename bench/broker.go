package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Broker is one running server under test: a broker subprocess or the
// in-process byte sink. Whoever starts a Broker stops it with Stop.
type Broker struct {
	// URL is the nats:// address clients connect to, always on 127.0.0.1.
	URL string
	// Addr is the host:port form of URL, for raw TCP clients.
	Addr string
	// PID is the subprocess id, or 0 for the in-process sink.
	PID int

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	werr error         // cmd.Wait's error, valid after done is closed
	log  string        // file holding the subprocess's stdout and stderr
	sink *sink
}

// Launcher starts fresh brokers of one kind (one side of the comparison).
type Launcher struct {
	// Bin is the broker binary; it must accept nats-server style -a and -p.
	Bin string
	// LogDir receives one log file per started broker.
	LogDir string
	// ProfilePath, if not empty, returns the CPU profile file for the next
	// broker started; the path is passed with ProfileFlag.
	ProfilePath func() string
	// Sink makes Start run the in-process byte sink instead of Bin.
	Sink bool

	started int
}

// Start launches a broker on a free loopback port with extraArgs appended to
// the address flags, and returns once it greets a client with INFO.
func (l *Launcher) Start(ctx context.Context, extraArgs ...string) (*Broker, error) {
	if l.Sink {
		s, err := startSink()
		if err != nil {
			return nil, err
		}
		return &Broker{URL: "nats://" + s.addr, Addr: s.addr, sink: s}, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// -m 0: monitoring off on both (ours defaults to 8222, nats-server to off).
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "0"}
	if l.ProfilePath != nil {
		args = append(args, ProfileFlag, l.ProfilePath())
	}
	args = append(args, extraArgs...)

	l.started++
	logPath := filepath.Join(l.LogDir, fmt.Sprintf("%s-%d.log", filepath.Base(l.Bin), l.started))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("broker log: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor

	cmd := exec.Command(l.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Die with the harness even if it is killed without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", l.Bin, err)
	}
	b := &Broker{URL: "nats://" + addr, Addr: addr, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { b.werr = cmd.Wait(); close(b.done) }()

	if err := b.waitReady(ctx, 15*time.Second); err != nil {
		b.Stop()
		return nil, fmt.Errorf("%s %s: %w\n%s", l.Bin, strings.Join(args, " "), err, b.logTail())
	}
	return b, nil
}

// waitReady polls until the broker accepts a TCP connection and sends its
// INFO line, the process exits, or the timeout passes.
func (b *Broker) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-b.done:
			return fmt.Errorf("broker exited before accepting clients: %v", b.werr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "INFO ") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no INFO from %s within %v (last dial error: %v)", b.Addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop asks the broker to exit with SIGTERM, so it can write its CPU profile,
// and kills it if it has not exited within 10 s.
func (b *Broker) Stop() error {
	if b.sink != nil {
		b.sink.close()
		return nil
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
		return fmt.Errorf("broker pid %d ignored SIGTERM for 10s; killed", b.PID)
	}
	return nil
}

// Exited reports whether the broker process has ended on its own, with the
// tail of its log, so a crash under load shows up as the cause of an error.
func (b *Broker) Exited() (bool, string) {
	if b.sink != nil {
		return false, ""
	}
	select {
	case <-b.done:
		return true, fmt.Sprintf("broker exited: %v\n%s", b.werr, b.logTail())
	default:
		return false, ""
	}
}

// RSS returns the broker's resident set size in bytes, from VmRSS in
// /proc/<pid>/status.
func (b *Broker) RSS() (int64, error) {
	if b.PID == 0 {
		return 0, errors.New("no process to measure")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.PID))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", b.PID)
}

func (b *Broker) logTail() string {
	data, err := os.ReadFile(b.log)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "  | " + string(bytes.Join(lines, []byte("\n  | ")))
}

// LogField waits until a line of the broker's log contains msg and returns
// the value of the JSON-style field `"key": "value"` on that line. It gives
// up after timeout, when ctx ends or when the broker exits.
func (b *Broker) LogField(ctx context.Context, msg, key string, timeout time.Duration) (string, error) {
	if b.sink != nil {
		return "", errors.New("the sink writes no log")
	}
	// The broker's text log writes key=value (quoted when it has blanks);
	// its JSON log (--log_format json) "key":"value".
	field := regexp.MustCompile(`(?:^|\s)` + regexp.QuoteMeta(key) + `=(?:"([^"]*)"|(\S*))|"` + regexp.QuoteMeta(key) + `":\s*"([^"]*)"`)
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(b.log)
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			if m := field.FindStringSubmatch(line); m != nil {
				return m[1] + m[2] + m[3], nil
			}
			return "", fmt.Errorf("log line %q has no field %q", line, key)
		}
		if exited, why := b.Exited(); exited {
			return "", errors.New(why)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no log line with %q within %v\n%s", msg, timeout, b.logTail())
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for an unused loopback port. Another process may
// take it before the broker binds; that race is rare enough for a bench.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPort asks the kernel for an unused loopback UDP port, for a QUIC
// listener; the same race as freePort applies.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free UDP port: %w", err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// freeDualPort finds a loopback port free on both TCP and UDP, as gossip
// (memberlist) binds both.
func freeDualPort() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no loopback port free on both TCP and UDP after 50 tries")
}
