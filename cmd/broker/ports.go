package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport"
	"github.com/murmurmq/murmur/transport/tcp"
)

// portsInfo is the ports file, nats-server's Ports: the URLs each kind of
// listener is reachable at, so a supervisor or a test that started the
// broker on random ports (-1) learns where they are.
type portsInfo struct {
	Nats       []string `json:"nats,omitempty"`
	Monitoring []string `json:"monitoring,omitempty"`
	Cluster    []string `json:"cluster,omitempty"`
	Profile    []string `json:"profile,omitempty"`
	WebSocket  []string `json:"websocket,omitempty"`
}

// portsFilePath is where nats-server puts it: <dir>/<executable>_<pid>.ports.
func portsFilePath(dir string) string {
	return filepath.Join(dir, fmt.Sprintf("%s_%d.ports", filepath.Base(os.Args[0]), os.Getpid()))
}

// writePortsFile writes the ports file for the running broker (and the
// monitor at mon, nil when off) into dir; the returned remove deletes it
// at exit.
func writePortsFile(dir string, o *broker.Options, srv *broker.Server, mon net.Addr) (remove func(), err error) {
	p := portsInfo{}
	addrs := srv.Addrs()
	listeners := o.Listeners
	if len(listeners) == 0 {
		listeners = []broker.Listener{{Transport: tcpName{}}}
	}
	for _, l := range listeners {
		a := addrs[l.Transport.Name()]
		if a == nil {
			continue
		}
		switch scheme := schemeOf(l.Transport); scheme {
		case "nats":
			if o.TLS != nil {
				scheme = "tls" // as nats-server names a TLS client port
			}
			p.Nats = append(p.Nats, expandURL(scheme, a)...)
		case "ws", "wss":
			p.WebSocket = append(p.WebSocket, expandURL(scheme, a)...)
		}
	}
	if mon != nil {
		p.Monitoring = expandURL("http", mon)
	}
	if ra := srv.RouteAddr(); ra != nil {
		scheme := "nats"
		if t, ok := o.Cluster.Listen.Transport.(*tcp.Transport); ok && t.TLS != nil {
			scheme = "tls"
		}
		p.Cluster = expandURL(scheme, ra)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	path := portsFilePath(dir)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("ports file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// tcpName stands for the default TCP listener, which Options.Listeners
// does not list.
type tcpName struct{ transport.Transport }

func (tcpName) Name() string { return "tcp" }

func schemeOf(t transport.Transport) string {
	if us, ok := t.(transport.URLScheme); ok {
		return us.Scheme()
	}
	if t.Name() == "tcp" {
		return "nats"
	}
	return t.Name()
}

// expandURL is scheme://host:port for a, with an unspecified host
// (0.0.0.0, ::) replaced by each of this machine's addresses of its
// family, as nats-server lists them.
func expandURL(scheme string, a net.Addr) []string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		return []string{scheme + "://" + a.String()}
	}
	var out []string
	ifAddrs, _ := net.InterfaceAddrs()
	for _, ia := range ifAddrs {
		n, ok := ia.(*net.IPNet)
		if !ok || (n.IP.To4() == nil) != (ip.To4() == nil) {
			continue
		}
		out = append(out, scheme+"://"+net.JoinHostPort(n.IP.String(), port))
	}
	if len(out) == 0 {
		out = append(out, scheme+"://"+net.JoinHostPort("127.0.0.1", port))
	}
	return out
}
