package main

import (
	"flag"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	conf "github.com/murmurmq/murmur/config"
)

// cliFlags are the flags about the process rather than the broker: the
// config file, signals to a running broker, the pid file. They also keep
// the command line, which a reload parses again over the re-read file so
// the same flags keep overriding it.
type cliFlags struct {
	configFile string
	signal     string
	pidFile    string

	args      []string
	overrides []string // flags given on the command line (they beat the file)

	// gossipAdvertisePort (gossip { advertise: "ip:port" }) and
	// gossipExtraKeys (gossip { extra_keys }) have no flags.
	gossipAdvertisePort int
	gossipExtraKeys     []string
}

func (cf *cliFlags) register(fs *flag.FlagSet) {
	for _, n := range []string{"c", "config"} {
		fs.StringVar(&cf.configFile, n, "", "configuration `file` (nats-server format); flags given on the command line override it")
	}
	for _, n := range []string{"sl", "signal"} {
		fs.StringVar(&cf.signal, n, "", "send `signal` to a running broker and exit: reload, reopen, ldm, stop, quit or term, as signal=<pid or pid file>")
	}
	for _, n := range []string{"P", "pid"} {
		fs.StringVar(&cf.pidFile, n, "", "write the process id to `file` (for --signal)")
	}
}

// setter applies one config value; it returns an error naming the value's
// file, line and key (config.Value.Errorf).
type setter func(v *conf.Value) error

// keys maps lower-case key names (nats-server matches keys case-blind) to
// setters; an alias is a second entry.
type keys map[string]setter

// decode applies every field of m through ks. An unknown key is refused,
// unless the file used it as a $variable.
func decode(m *conf.Map, ks keys) error {
	for _, f := range m.Fields {
		set, ok := ks[strings.ToLower(f.Key)]
		if !ok {
			if f.Used {
				continue
			}
			return &conf.Error{Pos: f.Pos, Key: f.Value.Key, Msg: "unknown key"}
		}
		if err := set(f.Value); err != nil {
			return err
		}
	}
	return nil
}

func block(ks keys) setter {
	return func(v *conf.Value) error {
		m, err := v.AsMap()
		if err != nil {
			return err
		}
		return decode(m, ks)
	}
}

func str(dst *string) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsString()
		return err
	}
}

func boolean(dst *bool) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsBool()
		return err
	}
}

func integer(dst *int, lo, hi int64) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsIntRange(lo, hi)
		return err
	}
}

func duration(dst *time.Duration) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsDuration()
		return err
	}
}

// strList takes a string or an array of strings and keeps them joined by
// commas, as the matching flag takes them.
func strList(dst *string) setter {
	return func(v *conf.Value) error {
		l, err := v.AsStrings()
		*dst = strings.Join(l, ",")
		return err
	}
}

func stringSlice(dst *[]string) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsStrings()
		return err
	}
}

// addr takes a "host:port" string.
func addr(dst *string) setter {
	return func(v *conf.Value) error {
		s, err := v.AsString()
		if err != nil {
			return err
		}
		if _, _, err := splitHostPort(v, s); err != nil {
			return err
		}
		*dst = s
		return nil
	}
}

// hostPort takes "host:port" into both, or a bare port number.
func hostPort(host *string, port *int) setter {
	return func(v *conf.Value) error {
		if v.Kind == conf.Int {
			return integer(port, -1, 65535)(v)
		}
		s, err := v.AsString()
		if err != nil {
			return v.Errorf("want \"host:port\" or a port, got %s", v.Kind)
		}
		h, p, err := splitHostPort(v, s)
		if err != nil {
			return err
		}
		*host, *port = h, p
		return nil
	}
}

func splitHostPort(v *conf.Value, s string) (string, int, error) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, v.Errorf("%q is not host:port", s)
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < -1 || p > 65535 {
		return "", 0, v.Errorf("%q: bad port", s)
	}
	return h, p, nil
}

const maxInt = math.MaxInt

// applyFile parses the config file at path onto cfg. Flags are parsed
// after it, so the ones given on the command line win.
func applyFile(cfg *config, path string) error {
	m, err := conf.ParseFile(path)
	if err != nil {
		return err
	}
	accts := accountKeys{where: map[string]*conf.Value{}}
	ks := fileKeys(cfg)
	ks["accounts"] = func(v *conf.Value) (err error) {
		accts.accounts, err = decodeAccounts(v, accts.where, &cfg.js)
		return err
	}
	ks["no_auth_user"] = keep(&accts.noAuthUser)
	shorthand := ks["system_account"]
	ks["system_account"] = func(v *conf.Value) error {
		if v.Kind == conf.Block {
			return shorthand(v) // Murmur's { user, password }: a system user in $G
		}
		if _, err := v.AsString(); err != nil {
			return v.Errorf("want an account name (or a block with user and password), got %s", v.Kind)
		}
		accts.systemAccount = v
		return nil
	}
	ks["system"] = ks["system_account"]
	ops := operatorKeys{dir: filepath.Dir(path)}
	ops.register(ks)
	registerMappings(ks, &cfg.opts.Mappings)
	if err := decode(m, ks); err != nil {
		return err
	}
	if ops.opValue != nil {
		// Operator mode: system_account is an account key, not one of
		// the accounts block.
		sys := accts.systemAccount
		accts.systemAccount = nil
		if err := accts.apply(&cfg.opts); err != nil {
			return err
		}
		return ops.apply(&cfg.opts, sys)
	}
	if err := accts.apply(&cfg.opts); err != nil {
		return err
	}
	if v := cfg.callout; v != nil {
		// The callout's users and account are known only now.
		if err := cfg.opts.Auth.CheckCallout(); err != nil {
			_, reason, _ := strings.Cut(err.Error(), "auth_callout.")
			return v.Errorf("%s", reason)
		}
	}
	return nil
}

// fileKeys are the keys of the config file, with nats-server's names
// where it has them.
func fileKeys(c *config) keys {
	o, cl, mon, q := &c.opts, &c.cluster, &c.monitor, &c.quicFlags
	// cluster.name and gossip.cluster_name set the same name: brokers of
	// one cluster agree on one name for routes and gossip.
	var clusterName *conf.Value
	name := func(v *conf.Value) error {
		s, err := v.AsString()
		if err != nil {
			return err
		}
		if clusterName != nil && clusterName.Str != s {
			return v.Errorf("%q differs from %s %q (%s); routes and gossip use one cluster name", s, clusterName.Key, clusterName.Str, clusterName.Pos)
		}
		clusterName, cl.name = v, s
		return nil
	}
	ks := keys{
		"host":              str(&o.Host),
		"listen":            hostPort(&o.Host, &o.Port),
		"port":              integer(&o.Port, -1, 65535),
		"server_name":       str(&o.Name),
		"http_port":         integer(&mon.httpPort, -1, 65535),
		"http":              hostPort(&mon.httpAddr, &mon.httpPort),
		"max_payload":       integer(&o.MaxPayload, 1, maxInt),
		"max_pending":       integer(&o.MaxPending, 1, maxInt),
		"max_control_line":  integer(&o.MaxControlLine, 1, maxInt),
		"max_connections":   integer(&o.MaxConnections, 1, maxInt),
		"max_subscriptions": integer(&o.MaxSubscriptions, 0, maxInt),
		"ping_interval":     duration(&o.PingInterval),
		"ping_max":          integer(&o.PingMax, 1, maxInt),
		"write_deadline":    duration(&o.WriteDeadline),
		"pid_file":          str(&c.cli.pidFile),
		"stats_interval":    duration(&mon.statsInterval),
		"prof_port":         integer(&mon.profPort, -1, 65535),
		"http_auth":         mon.httpAuthKeys(), // Murmur's own (profile.go)
		"subject_sampling": func(v *conf.Value) error {
			on, err := v.AsBool()
			o.NoSubjectSampling = !on
			return err
		},

		"lame_duck_duration":     duration(&o.LameDuck.Duration),
		"lame_duck_grace_period": duration(&o.LameDuck.GracePeriod),

		"authorization": func(v *conf.Value) (err error) {
			o.Auth, err = decodeAuth(v, &c.callout)
			return err
		},
		"tls": func(v *conf.Value) (err error) {
			o.TLS, err = decodeTLS(v)
			return err
		},
		"system_account": block(keys{"user": str(&mon.sysUser), "password": str(&mon.sysPassword)}),
		"quic": block(keys{
			"port":      integer(&q.port, -1, 65535),
			"host":      str(&q.addr),
			"cert_file": str(&q.cert),
			"key_file":  str(&q.key),
		}),
		"websocket": c.wsFlags.keys(),
		"cluster":   clusterKeys(c, name),
		"leafnodes": leafKeys(o),
		"gossip": wantGossip(&cl.gossipWanted, keys{
			"listen":         hostPort(&cl.gossipAddr, &cl.gossipPort),
			"advertise":      gossipAdvertise(&cl.gossipAdvertise, &c.cli.gossipAdvertisePort),
			"seeds":          strList(&cl.seeds),
			"key":            str(&cl.key),
			"extra_keys":     stringSlice(&c.cli.gossipExtraKeys),
			"profile":        str(&cl.profile),
			"cluster_name":   name,
			"probe_interval": duration(&cl.probeInterval),
		}),
	}
	for alias, key := range map[string]string{
		"net": "host", "monitor_port": "http_port",
		"max_conn": "max_connections", "max_subs": "max_subscriptions",
		"ws": "websocket", "leaf": "leafnodes",
	} {
		ks[alias] = ks[key]
	}
	serverKeys(c, ks)
	c.js.keys(ks)
	c.log.addKeys(ks, &c.nats)
	return refuse(ks, refusedTop)
}

// wantGossip decodes the gossip block, whose presence turns gossip on
// beside configured routes.
func wantGossip(wanted *bool, ks keys) setter {
	set := block(ks)
	return func(v *conf.Value) error {
		*wanted = true
		return set(v)
	}
}

// gossipAdvertise takes "ip" or "ip:port".
func gossipAdvertise(ip *string, port *int) setter {
	return func(v *conf.Value) error {
		s, err := v.AsString()
		if err != nil {
			return err
		}
		if net.ParseIP(s) != nil {
			*ip, *port = s, 0
			return nil
		}
		h, p, err := splitHostPort(v, s)
		if err != nil || net.ParseIP(h) == nil || p <= 0 {
			return v.Errorf("%q: want an IP or IP:port", s)
		}
		*ip, *port = h, p
		return nil
	}
}

// finish applies what the file set beyond the flags, once the flags have
// built the gossip config.
func (cf *cliFlags) finish(c *config) error {
	g := c.gossip
	if g == nil {
		return nil
	}
	if cf.gossipAdvertisePort != 0 {
		g.AdvertisePort = cf.gossipAdvertisePort
	}
	g.ExtraKeys = cf.gossipExtraKeys
	// Validate again with a stand-in id, as clusterFlags.apply does.
	check := *g
	check.Name = "validate"
	if err := check.Validate(); err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	return nil
}

// visited lists the flags set on the command line that override the
// file (not -c, -P or --signal themselves).
func visited(fs *flag.FlagSet) []string {
	var out []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "c", "config", "P", "pid", "sl", "signal":
		default:
			out = append(out, f.Name)
		}
	})
	return out
}
