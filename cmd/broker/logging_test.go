package main

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/testutil"
)

// openTestLog parses args (with conf, when given, as the config file) and
// opens the log they ask for, writing stderr into the returned buffer.
func openTestLog(t *testing.T, conf string, args ...string) (*config, *logSink, *testutil.SyncBuffer) {
	t.Helper()
	if conf != "" {
		args = append([]string{"-c", writeConf(t, t.TempDir(), conf)}, args...)
	}
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	sink, err := openLog(cfg, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sink.close)
	return cfg, sink, &stderr
}

// The command's stderr log: nats-server's line, -T off, UTC, fields.
func TestLogLineThroughFlags(t *testing.T) {
	_, sink, out := openTestLog(t, "", "-T=false")
	sink.log.Info("listening for clients", zap.String("addr", "0.0.0.0:4222"), zap.Duration("took", 1500*time.Millisecond))
	sink.log.Debug("not shown without -D")
	want := regexp.MustCompile(`^\[\d+\] \[INF\] listening for clients addr=0\.0\.0\.0:4222 took=1\.5s\n$`)
	if !want.MatchString(out.String()) {
		t.Fatalf("-T=false: got %q", out.String())
	}

	_, sink, out = openTestLog(t, "logtime_utc: true\ndebug: true")
	before := time.Now().UTC()
	sink.log.Debug("d")
	m := regexp.MustCompile(`^\[\d+\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) \[DBG\] d\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("logtime_utc: got %q", out.String())
	}
	at, err := time.Parse("2006/01/02 15:04:05.000000", m[1]) // parsed as UTC
	if err != nil {
		t.Fatal(err)
	}
	if d := at.Sub(before); d < -time.Second || d > time.Minute {
		t.Fatalf("logtime_utc: %s is not UTC now (%s)", m[1], before)
	}

	_, sink, out = openTestLog(t, "", "--log_format", "json", "-V")
	sink.log.Log(zap.DebugLevel-1, "<<- [PING]")
	var entry map[string]any
	if err := json.Unmarshal([]byte(out.String()), &entry); err != nil || entry["level"] != "trace" || entry["msg"] != "<<- [PING]" {
		t.Fatalf("json: %v %q", err, out.String())
	}
}

func TestLogFlagsAndKeys(t *testing.T) {
	cfg, _, _ := openTestLog(t, "", "--log_size_limit", "10MB", "--max_traced_msg_len", "32", "-DVV")
	lf := cfg.log
	if lf.sizeLimit != 10<<20 || lf.maxTracedMsgLen != 32 || !lf.debug || !lf.trace || !lf.traceVerbose {
		t.Fatalf("flags: %+v", lf)
	}
	cfg, _, _ = openTestLog(t, "log_size_limit: 1KB\nlogfile_max_num: 4\nmax_traced_msg_len: 8\ntrace_verbose: true\nlog_format: json\nlogtime: false")
	if lf := cfg.log; lf.sizeLimit != 1024 || lf.maxNum != 4 || lf.maxTracedMsgLen != 8 || !lf.trace || !lf.traceVerbose || lf.format != "json" || cfg.nats.logtime {
		t.Fatalf("keys: %+v logtime %v", lf, cfg.nats.logtime)
	}
	if cfg.opts.Trace {
		t.Fatal("broker options get the trace settings only when the log opens (run)")
	}
	cfg.log.applyTo(&cfg.opts)
	if !cfg.opts.Trace || !cfg.opts.TraceVerbose || cfg.opts.MaxTracedMsgLen != 8 {
		t.Fatalf("applyTo: %+v", cfg.opts)
	}
	cfg, _, _ = openTestLog(t, `logfile_size_limit: "2MB"`, "-r", "udp://127.0.0.1:1")
	if cfg.log.sizeLimit != 2<<20 || cfg.log.remoteSyslog != "udp://127.0.0.1:1" {
		t.Fatalf("string size / -r: %+v", cfg.log)
	}
}

func TestLogConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"logfile_size_limit: -1", ":1: logfile_size_limit: -1 out of range"},
		{"logfile_size_limit: \"lots\"", `:1: logfile_size_limit: "lots" is not a size`},
		{"\nlogfile_max_num: -2", ":2: logfile_max_num: -2 out of range"},
		{"remote_syslog: \"ftp://h:1\"", `:1: remote_syslog: "ftp://h:1": want udp://host:port, tcp://host:port or unix:///path`},
		{"log_format: xml", `:1: log_format: "xml": want text or json`},
		{"max_traced_msg_len: -3", ":1: max_traced_msg_len: -3 out of range"},
		{"syslog: 1", ":1: syslog: want a boolean, got an integer"},
		{"trace_verbose: yes\nlogtime_utc: 3", ":2: logtime_utc: want a boolean"},
	} {
		path := writeConf(t, t.TempDir(), tc.text)
		_, err := parseFlags([]string{"-c", path}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, path+tc.want)
		}
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"-r", "localhost:514", "remote_syslog: \"localhost:514\": want udp://"}},
		{[]string{"--log_format", "xml", `-log_format: "xml": want text or json`}},
		{[]string{"--log_size_limit", "big", "-log_size_limit"}},
		{[]string{"--max_traced_msg_len", "-1", "max_traced_msg_len: must not be negative"}},
	} {
		want := tc.args[2]
		if _, err := parseFlags(tc.args[:2], io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", tc.args[:2], err, want)
		}
	}
}

var backupName = regexp.MustCompile(`^broker\.log\.\d{4}\.\d\d\.\d\d\.\d\d\.\d\d\.\d\d\.\d{9}$`)

// Rotation by size keeps logfile_max_num files, the current one
// included, with the backups named as nats-server names them.
func TestLogRotationBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broker.log")
	_, sink, _ := openTestLog(t, "log_file: "+path+"\nlogfile_size_limit: 1KB\nlogfile_max_num: 3")
	line := strings.Repeat("x", 100)
	for i := 0; i < 60; i++ { // about 8 KB: several rotations
		sink.log.Info(line, zap.Int("i", i))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) != 3 || names[0] != "broker.log" || !backupName.MatchString(names[1]) || !backupName.MatchString(names[2]) {
		t.Fatalf("files: %v, want broker.log and 2 backups", names)
	}
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(cur), `[INF] Rotated log, backup saved as "`+filepath.Join(dir, "broker.log.")) ||
		!strings.Contains(string(cur), `[INF] Purged log file "broker.log.`) {
		t.Fatalf("current file has no rotation note:\n%s", cur)
	}
	if st, _ := os.Stat(path); st.Size() > 1024+200 {
		t.Fatalf("current file is %d bytes, limit 1KB", st.Size())
	}
	last, _ := os.ReadFile(filepath.Join(dir, names[2]))
	if !strings.Contains(string(last), line) {
		t.Fatalf("newest backup lacks the log lines:\n%s", last)
	}
}

// remote_syslog over UDP on loopback: each entry one datagram, at the
// priority of its level (daemon facility), with no [INF] tag or time of
// our own (syslog adds them).
func TestRemoteSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, sink, stderr := openTestLog(t, `remote_syslog: "udp://`+pc.LocalAddr().String()+`"`)
	sink.log.Info("route up", zap.String("peer", "edge-2"))
	sink.log.Warn("slow consumer detected")
	sink.log.Error("config refused", zap.Error(io.ErrUnexpectedEOF))
	wants := [][2]string{ // daemon.notice, daemon.warning, daemon.err
		{"<29>", "]: route up peer=edge-2"},
		{"<28>", "]: slow consumer detected"},
		{"<27>", `]: config refused error="unexpected EOF"`},
	}
	buf := make([]byte, 2048)
	for _, w := range wants {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for %q: %v", w[1], err)
		}
		got := strings.TrimSpace(string(buf[:n]))
		if !strings.HasPrefix(got, w[0]) || !strings.HasSuffix(got, w[1]) || strings.Contains(got, "[INF]") {
			t.Errorf("datagram %q, want %s...%s", got, w[0], w[1])
		}
	}
	if stderr.String() != "" {
		t.Fatalf("stderr got lines with syslog on: %q", stderr.String())
	}
}
