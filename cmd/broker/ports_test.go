package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestPortsFile: with ports_file_dir the broker writes
// <exe>_<pid>.ports (nats-server's JSON) naming the client, monitoring
// and cluster URLs it bound (random ports here), and removes it at exit;
// server_tags ride in the server block of system responses.
func TestPortsFile(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, fmt.Sprintf(`
listen: 127.0.0.1:-1
http: 127.0.0.1:-1
ports_file_dir: %q
server_tags: ["region:eu", "az:2"]
system_account { user: sys, password: s }
cluster { listen: 127.0.0.1:-1, name: p }
gossip { listen: 127.0.0.1:0 }
`, dir))
	p := startBroker(t, "-c", conf)
	file := filepath.Join(dir, fmt.Sprintf("broker_%d.ports", p.cmd.Process.Pid))
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ports portsInfo
	if err := json.Unmarshal(b, &ports); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if len(ports.Nats) != 1 || ports.Nats[0] != p.url || len(ports.Monitoring) != 1 || !strings.HasPrefix(ports.Monitoring[0], "http://127.0.0.1:") ||
		len(ports.Cluster) != 1 || !strings.HasPrefix(ports.Cluster[0], "nats://127.0.0.1:") {
		t.Fatalf("ports file %s", b)
	}
	connect(t, ports.Nats[0]).Close()

	nc := connect(t, p.url, nats.UserInfo("sys", "s"))
	msg, err := nc.Request("$SYS.REQ.SERVER.PING.STATSZ", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Server struct{ Tags []string } `json:"server"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil || strings.Join(resp.Server.Tags, ",") != "region:eu,az:2" {
		t.Fatalf("STATSZ server tags %v (%v): %s", resp.Server.Tags, err, msg.Data)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.done; err != nil {
		t.Fatalf("exit: %v", err)
	}
	p.done <- nil
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("ports file left behind: %v", err)
	}
}
