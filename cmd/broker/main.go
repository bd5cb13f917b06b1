// Command broker runs a Murmur broker.
//
//	go run ./cmd/broker            # clients on 0.0.0.0:4222
//	go run ./cmd/broker -p 4333 -D # another port, debug logging
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/transport/quic"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp), errors.Is(err, errSignalSent):
			return
		case errors.Is(err, errVersion):
			printVersion(os.Stdout)
			return
		case errors.Is(err, errTested):
			fmt.Println("broker:", err) // nats-server's "configuration file <f> test is successful"
			return
		}
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
}

// config is what the command line sets.
type config struct {
	opts       broker.Options
	logFile    string
	debug      bool
	trace      bool
	cpuProfile string
	cluster    clusterFlags
	monitor    monitorFlags
	quicFlags  quicFlags
	wsFlags    wsFlags
	quic       *quic.Transport // nil without QUIC
	gossip     *gossip.Config  // nil without clustering
	cli        cliFlags        // -c, --signal, -P; the command line, for reloads
	nats       natsFlags       // nats-server's flags: --user, -v, -t, -DV, --tls, ...
	callout    *conf.Value     // where authorization.auth_callout was written
}

// parseFlags fills a config from args with nats-server style flags: each
// has a short and a long name. A first pass reads the command line alone,
// for -c and --signal; the second applies the config file and then parses
// the command line again over it, so only the flags given explicitly
// override the file. A reload runs the second pass again.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	pre, err := parseArgs(args, stderr, nil)
	if err != nil {
		return nil, err
	}
	if pre.cli.signal != "" {
		return nil, sendSignal(pre.cli.signal)
	}
	return parseArgs(args, stderr, &pre.cli.configFile)
}

// parseArgs is one pass of parseFlags; with file nil it only parses args.
func parseArgs(args []string, stderr io.Writer, file *string) (*config, error) {
	cfg := &config{opts: broker.DefaultOptions(), cli: cliFlags{args: args}}
	o := &cfg.opts
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	// A bad flag is one line (returned); --help lists every flag.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error
	both := func(short, long string, f func(name string)) {
		f(short)
		f(long)
	}
	both("a", "addr", func(n string) { fs.StringVar(&o.Host, n, o.Host, "client listen `host`") })
	both("p", "port", func(n string) { fs.IntVar(&o.Port, n, o.Port, "client `port` (-1 for random)") })
	both("n", "name", func(n string) { fs.StringVar(&o.Name, n, o.Name, "server `name` (default: the server id)") })
	both("l", "log", func(n string) { fs.StringVar(&cfg.logFile, n, "", "log `file` (default: stderr)") })
	both("D", "debug", func(n string) { fs.BoolVar(&cfg.debug, n, false, "debug logging") })
	both("V", "trace", func(n string) { fs.BoolVar(&cfg.trace, n, false, "trace every protocol op (implies debug)") })
	fs.Var(sizeFlag{&o.MaxPayload}, "max_payload", "maximum message payload in `bytes` (suffixes: 2MB, 64k)")
	fs.Var(sizeFlag{&o.MaxControlLine}, "max_control_line", "maximum control line in `bytes`")
	fs.Var(sizeFlag{&o.MaxPending}, "max_pending", "maximum pending outbound `bytes` per connection")
	fs.IntVar(&o.MaxConnections, "max_connections", o.MaxConnections, "maximum client `connections`")
	fs.IntVar(&o.MaxSubscriptions, "max_subscriptions", o.MaxSubscriptions, "maximum subscriptions per connection (0 = unlimited)")
	fs.DurationVar(&o.PingInterval, "ping_interval", o.PingInterval, "server PING `interval`")
	fs.IntVar(&o.PingMax, "ping_max", o.PingMax, "unanswered PINGs before a connection is stale")
	fs.DurationVar(&o.WriteDeadline, "write_deadline", o.WriteDeadline, "write `deadline` before a client is a slow consumer")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` until shutdown")
	cfg.cluster.register(fs)
	cfg.monitor.register(fs)
	cfg.quicFlags.register(fs)
	cfg.wsFlags.register(fs)
	cfg.cli.register(fs)
	cfg.nats.register(fs)
	if file != nil && *file != "" {
		if err := applyFile(cfg, *file); err != nil {
			return nil, err
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "Usage: broker [options]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%v (see --help)", err)
	}
	if cfg.nats.version {
		return nil, errVersion
	}
	if cfg.cluster.keygen {
		return nil, errGossipKeygen
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if file == nil {
		return cfg, nil
	}
	cfg.cli.overrides = visited(fs)
	if err := cfg.monitor.validate(); err != nil {
		return nil, err
	}
	if err := cfg.nats.apply(cfg); err != nil {
		return nil, err
	}
	var err error
	if err = o.Validate(); err != nil {
		return nil, err
	}
	if cfg.quic, err = cfg.quicFlags.apply(o); err != nil {
		return nil, err
	}
	if _, err = cfg.wsFlags.apply(o); err != nil {
		return nil, err
	}
	g, err := cfg.cluster.apply(o)
	if err != nil {
		return nil, err
	}
	cfg.gossip = g
	if err := cfg.cli.finish(cfg); err != nil {
		return nil, err
	}
	cfg.monitor.applySystemUser(o)
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if cfg.nats.test {
		return nil, fmt.Errorf("configuration file %s test is successful%w", *file, errTested)
	}
	return cfg, nil
}

func newLogger(cfg *config, stderr io.Writer) (*zap.Logger, func(), error) {
	level := zapcore.InfoLevel
	if cfg.debug || cfg.trace {
		level = zapcore.DebugLevel
	}
	var w zapcore.WriteSyncer = zapcore.AddSync(stderr)
	closeFn := func() {}
	if cfg.logFile != "" {
		f, err := os.OpenFile(cfg.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log: %w", err)
		}
		w = zapcore.AddSync(f)
		closeFn = func() { f.Close() }
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	switch {
	case !cfg.nats.logtime:
		enc.TimeKey = "" // -T=false: no timestamps (a supervisor adds its own)
	case cfg.nats.logtimeUTC:
		enc.EncodeTime = func(t time.Time, pe zapcore.PrimitiveArrayEncoder) { zapcore.ISO8601TimeEncoder(t.UTC(), pe) }
	}
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), w, level)
	return zap.New(core), closeFn, nil
}

// run is the command: --help goes to stdout, logs to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stdout)
	if errors.Is(err, errGossipKeygen) {
		return printGossipKey(stdout)
	}
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	defer log.Sync() //nolint:errcheck // nothing useful to do on failure
	cfg.opts.Logger = log
	cfg.opts.Trace = cfg.trace

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	srv, err := broker.New(cfg.opts)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	logQUIC(log, cfg.quic, &cfg.quicFlags)
	var cl *cluster.Cluster
	if cfg.gossip != nil {
		warnPlainGossip(cfg.gossip, log)
		cfg.gossip.Logger = log
		if cl, err = cluster.Start(srv, *cfg.gossip); err != nil {
			srv.Close()
			return err
		}
	}
	if len(cfg.cluster.routes) > 0 {
		// Configured routes (nats-server's cluster.routes), beside gossip.
		static := cluster.StartStatic(srv, cfg.cluster.routes, log)
		defer static.Close()
		if cl != nil {
			cl.PinRoutes(static.Pinned)
		}
	}
	stopMonitor, err := startMonitor(&cfg.monitor, srv, cl, log)
	if err != nil {
		if cl != nil {
			cl.Close()
		}
		srv.Close()
		return err
	}
	defer stopMonitor()
	log.Info("murmur broker ready", zap.String("version", broker.Version), zap.String("id", srv.ID()))
	return serve(cfg, srv, cl, log)
}
