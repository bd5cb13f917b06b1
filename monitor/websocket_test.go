package monitor_test

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
	"github.com/murmurmq/murmur/transport/tcp"
	"github.com/murmurmq/murmur/transport/ws"
)

// /varz has nats-server's websocket block and /connz labels WebSocket
// clients "websocket".
func TestWebSocketVarzAndConnz(t *testing.T) {
	wt, err := ws.New(ws.Config{Compression: true, SameOrigin: true, AllowedOrigins: []string{"http://a.example"}})
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: "127.0.0.1:0"},
		{Transport: wt, Addr: "127.0.0.1:0", Advertise: "ws.example:80"},
	}
	srv := started(t, newBrokerWith(t, o))
	m := startMonitor(t, srv, monitor.Config{})
	c := client(t)

	var v struct {
		Websocket map[string]any `json:"websocket"`
	}
	getJSON(t, c, m, "/varz", &v)
	w := v.Websocket
	port := srv.Addrs()[ws.Name].(*net.TCPAddr).Port
	if w["host"] != "127.0.0.1" || w["port"] != float64(port) || w["advertise"] != "ws.example:80" ||
		w["no_tls"] != true || w["compression"] != true || w["same_origin"] != true ||
		w["handshake_timeout"] != float64(ws.DefaultHandshakeTimeout) || len(w["allowed_origins"].([]any)) != 1 {
		t.Fatalf("varz websocket %v", w)
	}
	nc, err := nats.Connect("ws://"+srv.Addrs()[ws.Name].String(), nats.UserInfo("sys", "pass"), nats.MaxReconnects(0), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var cz struct {
		Conns []struct {
			Transport string `json:"transport"`
		} `json:"connections"`
	}
	getJSON(t, c, m, "/connz", &cz)
	if len(cz.Conns) != 1 || cz.Conns[0].Transport != "websocket" {
		t.Fatalf("connz %+v", cz)
	}
}
