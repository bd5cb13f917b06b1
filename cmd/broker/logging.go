package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/internal/logfmt"
)

// logFlags are the logging settings, with nats-server's flags and config
// keys: where the log goes (stderr, log_file with rotation, syslog,
// remote_syslog), what it includes (debug, trace, trace_verbose,
// trace_headers, max_traced_msg_len) and, Murmur's own, log_format. The
// timestamp switches (-T, --logtime_utc) are natsFlags'.
type logFlags struct {
	file            string
	debug, trace    bool
	traceVerbose    bool // trace the broker's internal system traffic too (-VV)
	traceHeaders    bool // trace only the headers of messages
	sizeLimit       int  // bytes; 0: no rotation
	maxNum          int  // files kept by rotation, the current one included; 0: all
	syslog          bool
	remoteSyslog    string
	maxTracedMsgLen int // 0: whole payloads
	format          string
}

func (lf *logFlags) register(fs *flag.FlagSet) {
	for _, n := range []string{"l", "log"} {
		fs.StringVar(&lf.file, n, "", "log `file` (default: stderr)")
	}
	for _, n := range []string{"D", "debug"} {
		fs.BoolVar(&lf.debug, n, false, "debug logging")
	}
	for _, n := range []string{"V", "trace"} {
		fs.BoolVar(&lf.trace, n, false, "trace every protocol op, in and out ([TRC] lines)")
	}
	fs.Var(sizeFlag{&lf.sizeLimit}, "log_size_limit", "rotate the log file past this many `bytes` (suffixes: 10MB)")
	for _, n := range []string{"s", "syslog"} {
		fs.BoolVar(&lf.syslog, n, false, "log to the local syslog")
	}
	for _, n := range []string{"r", "remote_syslog"} {
		fs.StringVar(&lf.remoteSyslog, n, "", "log to a syslog server at `url` (udp://127.0.0.1:514, tcp://..., unix:///dev/log)")
	}
	fs.IntVar(&lf.maxTracedMsgLen, "max_traced_msg_len", 0, "trace at most this many payload `bytes` (0: all)")
	fs.Var(formatFlag{&lf.format}, "log_format", "log line `format`: text (nats-server's) or json")
}

// addKeys adds the logging keys to the config file's keys. logtime and
// logtime_utc set nf's switches, which -T and --logtime_utc share.
func (lf *logFlags) addKeys(ks keys, nf *natsFlags) {
	size := func(v *conf.Value) error {
		if v.Kind == conf.String {
			n, err := conf.ParseSize(v.Str)
			if err != nil || n < 0 || n > maxInt {
				return v.Errorf("%q is not a size (10MB, 1GB, 512k)", v.Str)
			}
			lf.sizeLimit = int(n)
			return nil
		}
		return integer(&lf.sizeLimit, 0, maxInt)(v)
	}
	for k, set := range map[string]setter{
		"logfile":            str(&lf.file),
		"debug":              boolean(&lf.debug),
		"trace":              boolean(&lf.trace),
		"trace_verbose":      implies(&lf.traceVerbose, &lf.trace),
		"trace_headers":      implies(&lf.traceHeaders, &lf.trace),
		"logtime":            boolean(&nf.logtime),
		"logtime_utc":        boolean(&nf.logtimeUTC),
		"logfile_size_limit": size,
		"logfile_max_num":    integer(&lf.maxNum, 0, maxInt),
		"syslog":             boolean(&lf.syslog),
		"max_traced_msg_len": integer(&lf.maxTracedMsgLen, 0, maxInt),
		"remote_syslog": func(v *conf.Value) error {
			s, err := v.AsString()
			if err != nil {
				return err
			}
			if _, _, err := parseRemoteSyslog(s); err != nil {
				return v.Errorf("%v", err)
			}
			lf.remoteSyslog = s
			return nil
		},
		"log_format": func(v *conf.Value) error {
			s, err := v.AsString()
			if err != nil {
				return err
			}
			if err := (formatFlag{&lf.format}).Set(s); err != nil {
				return v.Errorf("%v", err)
			}
			return nil
		},
	} {
		ks[k] = set
	}
	// nats-server's aliases.
	ks["log_file"], ks["log_size_limit"], ks["log_max_num"] = ks["logfile"], ks["logfile_size_limit"], ks["logfile_max_num"]
}

// implies sets a switch that turns trace on with it (trace_verbose,
// trace_headers), as nats-server's keys do.
func implies(dst, trace *bool) setter {
	return func(v *conf.Value) (err error) {
		if *dst, err = v.AsBool(); err == nil && *dst {
			*trace = true
		}
		return err
	}
}

// validate checks what the command line may have set badly.
func (lf *logFlags) validate() error {
	if lf.remoteSyslog != "" {
		if _, _, err := parseRemoteSyslog(lf.remoteSyslog); err != nil {
			return fmt.Errorf("--remote_syslog: %v", err)
		}
	}
	if lf.maxTracedMsgLen < 0 {
		return errors.New("--max_traced_msg_len: must not be negative")
	}
	if lf.sizeLimit < 0 {
		return errors.New("--log_size_limit: must not be negative")
	}
	return nil
}

// applyTo hands the broker its trace settings.
func (lf *logFlags) applyTo(o *broker.Options) {
	o.Trace, o.TraceVerbose, o.TraceHeaders, o.MaxTracedMsgLen = lf.trace, lf.traceVerbose, lf.traceHeaders, lf.maxTracedMsgLen
}

// parseRemoteSyslog reads remote_syslog as nats-server does:
// udp://host:port, tcp://host:port or unix:///path.
func parseRemoteSyslog(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err == nil {
		switch u.Scheme {
		case "udp", "tcp":
			if u.Host != "" {
				return u.Scheme, u.Host, nil
			}
		case "unix":
			if u.Path != "" {
				return u.Scheme, u.Path, nil
			}
		}
	}
	return "", "", fmt.Errorf("%q: want udp://host:port, tcp://host:port or unix:///path", s)
}

// formatFlag is --log_format: text or json.
type formatFlag struct{ dst *string }

func (f formatFlag) String() string {
	if f.dst == nil || *f.dst == "" {
		return "text"
	}
	return *f.dst
}

func (f formatFlag) Set(s string) error {
	switch s = strings.ToLower(s); s {
	case "text", "json":
		*f.dst = s
		return nil
	}
	return fmt.Errorf("%q: want text or json", s)
}

// logSink is the running log: the logger and what it writes to, kept for
// SIGUSR1 (reopen) and shutdown.
type logSink struct {
	log    *zap.Logger
	file   *logFile    // nil unless log_file
	syslog *syslogCore // nil unless syslog or remote_syslog
}

// openLog builds the logger. Like nats-server, a log file wins over
// remote syslog, which wins over the local syslog, which wins over
// stderr.
func openLog(cfg *config, stderr io.Writer) (*logSink, error) {
	lf := &cfg.log
	o := logfmt.Options{Time: cfg.nats.logtime, UTC: cfg.nats.logtimeUTC, PID: os.Getpid()}
	encoder := func(o logfmt.Options) zapcore.Encoder {
		if lf.format == "json" {
			return logfmt.NewJSON(o)
		}
		return logfmt.NewText(o)
	}
	lvl := logfmt.Enabler(lf.debug, lf.trace)
	sink := &logSink{}
	var core zapcore.Core
	switch {
	case lf.file != "":
		enc := encoder(o)
		note := func(l zapcore.Level, msg string) []byte {
			b, err := enc.Clone().EncodeEntry(zapcore.Entry{Level: l, Time: time.Now(), Message: msg}, nil)
			if err != nil {
				return []byte(msg + "\n")
			}
			defer b.Free()
			return append([]byte(nil), b.Bytes()...)
		}
		f, err := openLogFile(lf.file, int64(lf.sizeLimit), lf.maxNum, note)
		if err != nil {
			return nil, fmt.Errorf("log: %w", err)
		}
		sink.file = f
		core = zapcore.NewCore(enc, f, lvl)
	case lf.remoteSyslog != "" || lf.syslog:
		s, err := openSyslog(lf.remoteSyslog, encoder(logfmt.Options{NoLevel: lf.format != "json"}), lvl)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		sink.syslog, core = s, s
	default:
		core = zapcore.NewCore(encoder(o), zapcore.Lock(zapcore.AddSync(stderr)), lvl)
	}
	sink.log = zap.New(core)
	if lf.sizeLimit > 0 && lf.file == "" {
		sink.log.Warn("logfile_size_limit is set without a log file (log_file, -l); it has no effect")
	}
	return sink, nil
}

// reopen closes and reopens the log file (SIGUSR1, --signal reopen), as
// nats-server does for logrotate.
func (s *logSink) reopen() {
	if s.file == nil {
		s.log.Info("File log re-open ignored, not a file logger")
		return
	}
	if err := s.file.Reopen(); err != nil {
		s.log.Error("File log re-open failed; still writing to the old file", zap.Error(err))
		return
	}
	s.log.Info("File log re-opened")
}

func (s *logSink) close() {
	_ = s.log.Sync()
	if s.file != nil {
		s.file.Close()
	}
	if s.syslog != nil {
		s.syslog.Close()
	}
}
