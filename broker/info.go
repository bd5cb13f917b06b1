package broker

import (
	"encoding/json"
	"net"
	"runtime"
	"strconv"
)

// Info is the INFO the server sends a client on connect, with nats-server's
// field names (only the fields Murmur fills).
type Info struct {
	ID           string   `json:"server_id"`
	Name         string   `json:"server_name"`
	Version      string   `json:"version"` // ServerVersion: the nats-server level
	Proto        int      `json:"proto"`
	GitCommit    string   `json:"git_commit,omitempty"`
	Go           string   `json:"go"`
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	Headers      bool     `json:"headers"`
	AuthRequired bool     `json:"auth_required,omitempty"`
	TLSRequired  bool     `json:"tls_required,omitempty"`
	TLSAvailable bool     `json:"tls_available,omitempty"`
	MaxPayload   int      `json:"max_payload"`
	ClientID     uint64   `json:"client_id,omitempty"`
	ClientIP     string   `json:"client_ip,omitempty"`
	Nonce        string   `json:"nonce,omitempty"`
	Cluster      string   `json:"cluster,omitempty"`
	ConnectURLs  []string `json:"connect_urls,omitempty"`
	LameDuckMode bool     `json:"ldm,omitempty"`
	// Sent once, after the first PONG to a protocol-1 client (as nats-server).
	ConnectInfo   bool   `json:"connect_info,omitempty"`
	RemoteAccount string `json:"remote_account,omitempty"`
	// JetStream is set when the server runs JetStream (SetJetStream).
	JetStream bool `json:"jetstream,omitempty"`
	// MurmurVersion is Murmur's own release (Version). Murmur only.
	MurmurVersion string `json:"murmur_version"`
}

// infoFor builds the INFO line for a client accepted on ln; nonce, for
// nkey users to sign, goes in the first INFO only.
func (s *Server) infoFor(ln *listener, cid uint64, remote net.Addr, nonce []byte) []byte {
	s.mu.Lock()
	info := s.info
	s.fillListenerInfoLocked(&info, ln)
	s.mu.Unlock()
	info.ClientID = cid
	if host, _, err := net.SplitHostPort(remote.String()); err == nil {
		info.ClientIP = host
	}
	info.Nonce = string(nonce)
	return infoLine(&info)
}

// fillListenerInfoLocked sets what INFO says about the listener a client
// came in on: its address, its connect_urls and, for WebSocket (whose TLS
// is the listener's, done before the upgrade), its TLS, as nats-server.
// Caller holds s.mu.
func (s *Server) fillListenerInfoLocked(info *Info, ln *listener) {
	info.Host, info.Port = ln.host, ln.port
	info.ConnectURLs = s.connectURLs
	if ln.websocket() {
		info.ConnectURLs = s.wsConnectURLs
		info.TLSRequired = ln.scheme == "wss"
		info.TLSAvailable = info.TLSRequired
	}
	if cl := s.o().Cluster; cl != nil && cl.NoAdvertise {
		info.ConnectURLs = nil // clients know only the URL they dialed
	}
	if ln.spec.Auth.overrides() {
		info.AuthRequired = true
	}
}

func infoLine(info *Info) []byte {
	b, _ := json.Marshal(info) // a struct of plain fields cannot fail
	line := make([]byte, 0, len(b)+8)
	line = append(line, "INFO "...)
	line = append(line, b...)
	return append(line, " \r\n"...) // nats-server's "INFO %s \r\n"
}

// connectInfoLine is the INFO nats-server sends after the first PONG.
func (s *Server) connectInfoLine(c *client) []byte {
	s.mu.Lock()
	info := s.info
	s.fillListenerInfoLocked(&info, c.ln)
	s.mu.Unlock()
	info.ClientID = c.cid
	if host, _, err := net.SplitHostPort(c.remote.String()); err == nil {
		info.ClientIP = host
	}
	info.ConnectInfo, info.RemoteAccount = true, c.acc.Load().name
	return infoLine(&info)
}

func baseInfo(id, name string, maxPayload int) Info {
	return Info{
		ID:            id,
		Name:          name,
		Version:       ServerVersion,
		Proto:         1,
		GitCommit:     GitCommit(),
		Go:            runtime.Version(),
		Headers:       true,
		MaxPayload:    maxPayload,
		MurmurVersion: Version,
	}
}

// splitHostPort returns the host and numeric port of addr.
func splitHostPort(addr net.Addr) (string, int) {
	h, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String(), 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}
