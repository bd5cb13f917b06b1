package main

import (
	"flag"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
	"github.com/murmurmq/murmur/monitor"
)

// monitorFlags are the monitoring flags: the HTTP endpoint, the periodic
// stats log and the $SYS system user.
type monitorFlags struct {
	httpAddr      string
	httpPort      int
	statsInterval time.Duration
	sysUser       string
	sysPassword   string
	httpUser      string // monitor credentials (profile.go)
	httpPassword  string
	httpToken     string
	profPort      int
	// noSystem (no_system_account) runs no $SYS responder: no system
	// requests are answered and no events published, as nats-server
	// without a system account.
	noSystem bool
}

func (mf *monitorFlags) register(fs *flag.FlagSet) {
	for _, n := range []string{"m", "http_port"} {
		fs.IntVar(&mf.httpPort, n, 8222, "monitoring HTTP `port` (0 = off, -1 = random)")
	}
	fs.StringVar(&mf.httpAddr, "http_addr", monitor.DefaultHost, "monitoring HTTP listen `host` (0.0.0.0 exposes it to the network)")
	fs.DurationVar(&mf.statsInterval, "stats_interval", 0, "log a one-line stats summary every `interval` (0 = off)")
	fs.StringVar(&mf.sysUser, "system_user", "", "`user` logging into the system account, which answers $SYS.REQ.* (nats server ping/list/report); without other credentials, clients sending none still connect")
	fs.StringVar(&mf.sysPassword, "system_password", "", "`password` of the system user")
	mf.registerOps(fs)
}

func (mf *monitorFlags) validate() error {
	switch {
	case mf.httpPort < -1 || mf.httpPort > 65535:
		return fmt.Errorf("http_port: %d is not a valid port", mf.httpPort)
	case mf.statsInterval < 0:
		return fmt.Errorf("stats_interval: %v is negative", mf.statsInterval)
	case mf.sysPassword != "" && mf.sysUser == "":
		return fmt.Errorf("system_password: set without system_user")
	}
	return mf.validateOps()
}

// applySystemUser makes the system user a login into the system account
// (broker.AuthOptions.System). Without other credentials configured,
// clients that send none still connect, to $G.
func (mf *monitorFlags) applySystemUser(o *broker.Options) {
	if mf.sysUser == "" {
		return
	}
	var auth broker.AuthOptions
	if o.Auth != nil {
		auth = *o.Auth
	}
	auth.System = &broker.User{Name: mf.sysUser, Password: mf.sysPassword}
	o.Auth = &auth
}

// startMonitor starts the HTTP endpoint, stats log and system responder as
// configured. The returned stop closes them; addr is the bound HTTP
// address (nil when off).
func startMonitor(mf *monitorFlags, routes []string, srv *broker.Server, cl *cluster.Cluster, js monitor.JetStream, log *zap.Logger) (stop func(), addr net.Addr, err error) {
	cfg := monitor.Config{
		Broker:        srv,
		Host:          mf.httpAddr,
		Port:          mf.httpPort,
		StatsInterval: mf.statsInterval,
		Logger:        log,
		Auth:          mf.auth(),
		RouteURLs:     routes,
		JetStream:     js,
	}
	if cl != nil {
		cfg.Gossip = gossipView(cl)
	}
	mon, err := monitor.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := mon.Start(); err != nil {
		return nil, nil, err
	}
	var prof *profiler
	if mf.profPort != 0 {
		if prof, err = startProfiler(mf.httpAddr, mf.profPort, mf.auth(), log); err != nil {
			mon.Close()
			return nil, nil, err
		}
	}
	stopMon := func() {
		if prof != nil {
			prof.Close()
		}
		mon.Close()
	}
	if mf.noSystem {
		return stopMon, mon.Addr(), nil
	}
	// The system responder runs unless no_system_account, as nats-server's:
	// in the system account, which only its users (if any) can reach.
	sys, err := srv.StartSystem(broker.SystemOptions{Endpoints: mon.SystemEndpoints(), AccountEndpoints: mon.AccountEndpoints()})
	if err != nil {
		stopMon()
		return nil, nil, err
	}
	return func() {
		sys.Close()
		stopMon()
	}, mon.Addr(), nil
}

// gossipView adapts the cluster's members to the monitor's /gossipz shape.
func gossipView(cl *cluster.Cluster) monitor.GossipProvider {
	return monitor.GossipFunc(func() []monitor.Member {
		var out []monitor.Member
		for _, m := range cl.Members() {
			out = append(out, monitor.Member{
				Name: m.Name, Address: m.GossipAddr(), State: m.State.String(),
				Incarnation: m.MetaSeq, Local: m.Local, Since: m.Since,
				Meta: map[string]string{"id": m.Meta.ID, "name": m.Meta.Name, "route": m.Meta.RouteURL, "version": m.Meta.Version},
			})
		}
		return out
	})
}
