package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/monitor"
)

// registerOps adds the monitoring flags of Murmur's own (nats-server has
// none of the auth ones): credentials for the HTTP endpoints, and the
// profiling port, which nats-server calls --profile.
func (mf *monitorFlags) registerOps(fs *flag.FlagSet) {
	fs.StringVar(&mf.httpUser, "http_user", "", "`user` the monitoring endpoints require (HTTP basic auth; Murmur only; /healthz stays open)")
	fs.StringVar(&mf.httpPassword, "http_password", "", "`password` of --http_user (plain or bcrypt)")
	fs.StringVar(&mf.httpToken, "http_token", "", "bearer `token` the monitoring endpoints accept (Murmur only; /healthz stays open)")
	for _, n := range []string{"profile", "prof_port"} {
		fs.IntVar(&mf.profPort, n, 0, "serve pprof at http://http_addr:`port`/debug/pprof/ (0 = off, -1 = random)")
	}
}

// httpAuthKeys decodes the http_auth block (Murmur only):
//
//	http_auth { user: ops, password: "$2a$11$...", token: $MONITOR_TOKEN }
//
// user and password go together; token may stand alone or beside them.
func (mf *monitorFlags) httpAuthKeys() setter {
	return func(v *conf.Value) error {
		mf.httpUser, mf.httpPassword, mf.httpToken = "", "", ""
		if err := block(keys{"user": str(&mf.httpUser), "password": str(&mf.httpPassword), "token": str(&mf.httpToken)})(v); err != nil {
			return err
		}
		switch {
		case mf.httpUser != "" && mf.httpPassword == "":
			return v.Errorf("user set without password")
		case mf.httpPassword != "" && mf.httpUser == "":
			return v.Errorf("password set without user")
		case mf.httpUser == "" && mf.httpToken == "":
			return v.Errorf("want user and password, or token")
		}
		return nil
	}
}

// validateOps checks the flags registerOps added.
func (mf *monitorFlags) validateOps() error {
	switch {
	case mf.profPort < -1 || mf.profPort > 65535:
		return fmt.Errorf("prof_port: %d is not a valid port", mf.profPort)
	case mf.httpUser != "" && mf.httpPassword == "":
		return errors.New("http_user: set without http_password")
	case mf.httpPassword != "" && mf.httpUser == "":
		return errors.New("http_password: set without http_user")
	}
	return nil
}

// auth is the monitor's (and the profiler's) credentials, nil when none
// are configured.
func (mf *monitorFlags) auth() *monitor.Auth {
	if mf.httpUser == "" && mf.httpToken == "" {
		return nil
	}
	return &monitor.Auth{User: mf.httpUser, Password: mf.httpPassword, Token: mf.httpToken}
}

// profiler serves net/http/pprof on a listener of its own, as
// nats-server's prof_port: http://host:port/debug/pprof/. It binds the
// monitor's host (127.0.0.1 unless --http_addr says otherwise) and asks
// for the monitor's credentials when they are set. Close stops it and
// waits for its goroutine.
type profiler struct {
	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup
}

// startProfiler listens on host:port (-1: a random port) and serves pprof.
func startProfiler(host string, port int, auth *monitor.Auth, log *zap.Logger) (*profiler, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(max(port, 0))))
	if err != nil {
		return nil, fmt.Errorf("prof_port: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also the named profiles: heap, goroutine, block...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var h http.Handler = mux
	if auth != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !auth.Allow(r.Header.Get("Authorization")) {
				w.Header().Set("WWW-Authenticate", auth.Challenge())
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	p := &profiler{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			MaxHeaderBytes:    1 << 20,
			// No WriteTimeout: /debug/pprof/profile streams for ?seconds=N.
		},
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiler stopped serving", zap.Error(err))
		}
	}()
	log.Info("profiling on http", zap.String("url", "http://"+ln.Addr().String()+"/debug/pprof/"))
	return p, nil
}

// Close stops the listener and in-flight requests and waits.
func (p *profiler) Close() {
	p.srv.Close()
	p.wg.Wait()
}
