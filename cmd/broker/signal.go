package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/cluster"
)

// errSignalSent ends a `broker --signal ...` run successfully: the signal
// went to the other process and there is nothing more to do.
var errSignalSent = errors.New("signal sent")

// serve runs the started broker until a signal ends it: SIGHUP reloads
// the config file, SIGUSR1 reopens the log file, SIGUSR2 enters lame-duck mode and exits when it is
// over, SIGINT and SIGTERM shut down at once (after a graceful gossip
// leave, so peers drop this broker without waiting for failure detection).
func serve(cfg *config, srv *broker.Server, cl *cluster.Cluster, log *zap.Logger) error {
	if f := cfg.cli.pidFile; f != "" {
		if err := os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return errors.Join(fmt.Errorf("pid file: %w", err), srv.Close())
		}
		defer os.Remove(f)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, append(append([]os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}, ldmSignals...), reopenSignals...)...)
	defer signal.Stop(sigs)
	for sig := range sigs {
		switch {
		case sig == syscall.SIGHUP:
			cfg = reload(cfg, srv, cl, log)
		case len(reopenSignals) > 0 && sig == reopenSignals[0]:
			cfg.sink.reopen()
		case len(ldmSignals) > 0 && sig == ldmSignals[0]:
			return lameDuck(srv, cl, log, sigs)
		default:
			log.Info("shutting down", zap.Stringer("signal", sig))
			leave(cl, log)
			return srv.Close()
		}
	}
	return nil
}

func leave(cl *cluster.Cluster, log *zap.Logger) {
	if cl == nil {
		return
	}
	if err := cl.Leave(2 * time.Second); err != nil {
		log.Warn("gossip leave", zap.Error(err))
	}
}

// reload re-reads the config file with the same command-line overrides,
// validates it whole, then applies the network half to the broker and the
// gossip half to the cluster. It returns the config now in force: the old
// one when the file is refused.
func reload(cur *config, srv *broker.Server, cl *cluster.Cluster, log *zap.Logger) *config {
	file := cur.cli.configFile
	if file == "" {
		log.Warn("reload: no config file (-c); nothing to reload")
		return cur
	}
	log.Info("reload: reading the config file", zap.String("file", file))
	next, err := parseArgs(cur.cli.args, io.Discard, &file)
	if err != nil {
		log.Error("reload: config refused; the running config stays in force", zap.String("file", file), zap.Error(err))
		return cur
	}
	keepRunning(cur, next, log)
	if err := srv.Reload(next.opts); err != nil {
		log.Error("reload: the broker refused the new options; the running config stays in force", zap.Error(err))
		return cur
	}
	next.opts = srv.Options() // listeners as running
	reloadJetStream(&cur.js, &next.js, log)
	switch {
	case next.quic != cur.quic:
		logQUIC(log, next.quic, &next.quicFlags) // QUIC turned on
	case next.quic != nil && (next.quicFlags.cert != "" || next.quicFlags.cert != cur.quicFlags.cert || next.quicFlags.key != cur.quicFlags.key):
		// Files are re-read on every reload: renewal tools overwrite them
		// in place.
		before := next.quic.Fingerprint()
		if err := next.quic.SetCertificate(next.quicFlags.cert, next.quicFlags.key); err != nil {
			log.Error("reload: QUIC certificate not replaced; the old one stays", zap.Error(err))
			next.quicFlags.cert, next.quicFlags.key = cur.quicFlags.cert, cur.quicFlags.key
		} else if next.quic.Fingerprint() != before {
			log.Info("reload: QUIC certificate replaced for new connections", zap.String("sha256_fingerprint", next.quic.Fingerprint()))
			logQUIC(log, next.quic, &next.quicFlags)
		}
	}
	if cl != nil {
		if err := cl.RefreshMeta(); err != nil {
			log.Error("reload: could not gossip the new client URLs", zap.Error(err))
		}
	}
	if cl != nil && next.gossip != nil {
		// The broker half is in force already; a gossip refusal (a changed
		// bind address or profile) leaves only the gossip half as it was.
		if err := cl.Reload(*next.gossip); err != nil {
			log.Error("reload: gossip refused the new settings; they stay as they were", zap.Error(err))
			next.gossip = cur.gossip
		}
	}
	log.Info("reload: config applied", zap.String("file", file), zap.Strings("flags_override", next.cli.overrides))
	return next
}

// keepRunning carries over to next what a reload does not replace: the
// logger, the running QUIC transport (the broker keeps the listeners whose
// address did not change; reload swaps its certificate when the files
// changed), and the settings that need a restart, which are logged.
func keepRunning(cur, next *config, log *zap.Logger) {
	next.opts.Logger, next.sink = cur.opts.Logger, cur.sink
	cur.log.applyTo(&next.opts)
	if next.quic != nil && cur.quic != nil {
		for i, l := range next.opts.Listeners {
			if l.Transport.Name() == next.quic.Name() {
				next.opts.Listeners[i].Transport = cur.quic
			}
		}
		next.quic = cur.quic
	}
	if next.opts.Cluster != nil && cur.opts.Cluster != nil && next.opts.Cluster.Listen.Addr == cur.opts.Cluster.Listen.Addr {
		next.opts.Cluster.Listen = cur.opts.Cluster.Listen
	}
	if next.gossip != nil && cur.gossip != nil {
		next.gossip.Logger = cur.gossip.Logger
	}
	var restart []string
	if next.log != cur.log || next.nats.logtime != cur.nats.logtime || next.nats.logtimeUTC != cur.nats.logtimeUTC {
		restart = append(restart, "logging (log_file, debug, trace, syslog, ...)")
		next.log, next.nats.logtime, next.nats.logtimeUTC = cur.log, cur.nats.logtime, cur.nats.logtimeUTC
	}
	if next.monitor != cur.monitor {
		restart = append(restart, "http/http_auth/prof_port/stats_interval/system_account")
		next.monitor = cur.monitor
	}
	if (next.gossip == nil) != (cur.gossip == nil) {
		restart = append(restart, "turning clustering on or off")
		next.opts.Cluster, next.gossip, next.cluster = cur.opts.Cluster, cur.gossip, cur.cluster
	}
	if len(restart) > 0 {
		log.Warn("reload: these changes need a restart and keep their running values", zap.String("settings", strings.Join(restart, ", ")))
	}
}

// lameDuck leaves the gossip cluster gracefully, then lets the broker stop
// accepting and close its clients over the configured window (INFO
// ldm:true tells them to go elsewhere), then closes it. SIGINT or SIGTERM
// during the window cuts it short.
func lameDuck(srv *broker.Server, cl *cluster.Cluster, log *zap.Logger, sigs <-chan os.Signal) error {
	log.Info("lame-duck signal: leaving the cluster, then closing clients gradually")
	leave(cl, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case sig := <-sigs:
			log.Info("lame duck cut short", zap.Stringer("signal", sig))
			cancel()
		case <-stop:
		}
	}()
	if err := srv.LameDuck(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("lame duck", zap.Error(err))
	}
	close(stop)
	wg.Wait()
	log.Info("lame duck over; shutting down")
	return srv.Close()
}
