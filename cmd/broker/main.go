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
	"strings"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/gossip"
	"github.com/murmurmq/murmur/jetstream"
	"github.com/murmurmq/murmur/transport/quic"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp), errors.Is(err, errSignalSent), errors.Is(err, errHealthy):
			return
		case errors.Is(err, errVersion):
			printVersion(os.Stdout)
			return
		case errors.Is(err, errTested):
			fmt.Println("broker:", err) // as nats-server: "configuration file <f> is valid (sha256:...)"
			return
		}
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
}

// config is what the command line sets.
type config struct {
	opts       broker.Options
	log        logFlags // -l, -D, -V, syslog, rotation (logging.go)
	sink       *logSink // the running log, set by run
	cpuProfile string
	cluster    clusterFlags
	monitor    monitorFlags
	quicFlags  quicFlags
	wsFlags    wsFlags
	quic       *quic.Transport // nil without QUIC
	gossip     *gossip.Config  // nil without clustering
	cli        cliFlags        // -c, --signal, -P; the command line, for reloads
	server     serverFile      // ports_file_dir and keys accepted for compatibility
	nats       natsFlags       // nats-server's flags: --user, -v, -t, -DV, --tls, ...
	callout    *conf.Value     // where authorization.auth_callout was written
	healthURL  string          // --healthcheck: probe a running broker and exit
	js         jsFlags         // jetstream block, store_dir, -js, -sd (config_jetstream.go)
}

// parseFlags fills a config from args with nats-server style flags: each
// has a short and a long name. A first pass reads the command line alone,
// for -c and --signal; the second applies the config file and then parses
// the command line again over it, so only the flags given explicitly
// override the file. A reload runs the second pass again.
func parseFlags(args []string, stdout io.Writer) (*config, error) {
	pre, err := parseArgs(args, stdout, nil)
	if err != nil {
		return nil, err
	}
	if pre.cli.signal != "" {
		return nil, sendSignal(pre.cli.signal)
	}
	if pre.healthURL != "" {
		return nil, probeHealth(pre.healthURL)
	}
	return parseArgs(args, stdout, &pre.cli.configFile)
}

// parseArgs is one pass of parseFlags; with file nil it only parses args.
func parseArgs(args []string, stdout io.Writer, file *string) (*config, error) {
	cfg := &config{opts: broker.DefaultOptions(), cli: cliFlags{args: args}}
	o := &cfg.opts
	fs := registerFlags(cfg)
	if file != nil && *file != "" {
		if err := applyFile(cfg, *file); err != nil {
			return nil, err
		}
		o.ConfigDigest = configDigest(*file)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, fs)
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
	if cfg.nats.test && cfg.cli.configFile == "" {
		return nil, errors.New("-t: must specify -c/--config, the file to check")
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
	if err := cfg.log.validate(); err != nil {
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
	for _, n := range cfg.cli.overrides {
		if strings.HasPrefix(n, "gossip_") {
			cfg.cluster.gossipWanted = true
		}
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
		return nil, fmt.Errorf("configuration file %s is valid (%s)%w", *file, o.ConfigDigest, errTested)
	}
	return cfg, nil
}

// registerFlags makes the command line's flag set, every flag writing
// into cfg.
func registerFlags(cfg *config) *flag.FlagSet {
	o := &cfg.opts
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	// A bad flag is one line (returned); --help lists every flag.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error
	both := func(short, long string, f func(name string)) {
		f(short)
		f(long)
	}
	for _, n := range []string{"a", "addr", "net"} {
		fs.StringVar(&o.Host, n, o.Host, "client listen `host`")
	}
	both("p", "port", func(n string) { fs.IntVar(&o.Port, n, o.Port, "client `port` (-1 for random)") })
	for _, n := range []string{"n", "name", "server_name"} {
		fs.StringVar(&o.Name, n, o.Name, "server `name` (default: the server id)")
	}
	fs.StringVar(&o.ClientAdvertise, "client_advertise", o.ClientAdvertise, "client `url` other brokers advertise for this one")
	fs.StringVar(&cfg.server.portsFileDir, "ports_file_dir", cfg.server.portsFileDir, "write a ports file (<executable>_<pid>.ports) in `dir`")
	fs.Var(sizeFlag{&o.MaxPayload}, "max_payload", "maximum message payload in `bytes` (suffixes: 2MB, 64k)")
	fs.Var(sizeFlag{&o.MaxControlLine}, "max_control_line", "maximum control line in `bytes`")
	fs.Var(sizeFlag{&o.MaxPending}, "max_pending", "maximum pending outbound `bytes` per connection")
	fs.IntVar(&o.MaxConnections, "max_connections", o.MaxConnections, "maximum client `connections`")
	fs.IntVar(&o.MaxSubscriptions, "max_subscriptions", o.MaxSubscriptions, "maximum subscriptions per connection (0 = unlimited)")
	fs.DurationVar(&o.PingInterval, "ping_interval", o.PingInterval, "server PING `interval`")
	fs.IntVar(&o.PingMax, "ping_max", o.PingMax, "unanswered PINGs before a connection is stale")
	fs.DurationVar(&o.WriteDeadline, "write_deadline", o.WriteDeadline, "write `deadline` before a client is a slow consumer")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` until shutdown")
	cfg.log.register(fs)
	cfg.cluster.register(fs)
	cfg.monitor.register(fs)
	cfg.quicFlags.register(fs)
	cfg.wsFlags.register(fs)
	cfg.cli.register(fs)
	cfg.nats.register(fs)
	cfg.js.register(fs)
	registerHealthcheck(fs, &cfg.healthURL)
	return fs
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
	sink, err := openLog(cfg, stderr)
	if err != nil {
		return err
	}
	defer sink.close()
	log := sink.log
	cfg.sink = sink
	cfg.opts.Logger = log
	cfg.log.applyTo(&cfg.opts)

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
	srv.SetJetStream(cfg.js.enabled)
	jsSvc := jetstream.NewService(srv.ID())
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
	if len(cfg.cluster.routes) > 0 || cl == nil && cfg.cluster.listen != "" {
		// Configured routes (nats-server's cluster.routes), beside gossip.
		// Without gossip, routes also tell of further brokers (implicit
		// routes), so a broker given none still joins the mesh.
		static := cluster.StartStatic(srv, cfg.cluster.routes, log)
		static.Retries = max(cfg.cluster.connectRetries, 0)
		defer static.Close()
		if cl != nil {
			cl.PinRoutes(static.Pinned)
		} else {
			srv.SetRouteLearner(static.Learn)
			defer srv.SetRouteLearner(nil)
		}
	}
	stopMonitor, monAddr, err := startMonitor(&cfg.monitor, cfg.cluster.routes, srv, cl, jsSvc, log)
	if err != nil {
		if cl != nil {
			cl.Close()
		}
		srv.Close()
		return err
	}
	defer stopMonitor()
	stopJS, err := startJetStream(&cfg.js, jsSvc, srv, cfg.opts.Name, log)
	if err != nil {
		if cl != nil {
			cl.Close()
		}
		return errors.Join(err, srv.Close())
	}
	defer stopJS()
	if dir := cfg.server.portsFileDir; dir != "" {
		remove, err := writePortsFile(dir, &cfg.opts, srv, monAddr)
		if err != nil {
			if cl != nil {
				cl.Close()
			}
			return errors.Join(err, srv.Close())
		}
		defer remove()
	}
	log.Info("murmur broker ready", zap.String("version", broker.Version), zap.String("id", srv.ID()))
	return serve(cfg, srv, cl, log)
}
