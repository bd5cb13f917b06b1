package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
	"github.com/murmurmq/murmur/transport/tcp"
)

// leafInfo is the INFO of a leaf node listener (hub to leaf), with
// nats-server's field names. The hub sends it twice: on accept, and after
// the leaf's CONNECT with connect_info and the account the leaf is bound
// to (remote_account). A dialer takes an INFO without client_id or
// leafnode_urls as a port that is not a leaf node listener.
type leafInfo struct {
	ID           string   `json:"server_id"`
	Name         string   `json:"server_name"`
	Version      string   `json:"version"`
	Proto        int      `json:"proto"`
	GoVersion    string   `json:"go"`
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	Headers      bool     `json:"headers"`
	AuthRequired bool     `json:"auth_required,omitempty"`
	MaxPayload   int      `json:"max_payload"`
	TLSRequired  bool     `json:"tls_required,omitempty"`
	TLSVerify    bool     `json:"tls_verify,omitempty"`
	CID          uint64   `json:"client_id,omitempty"`
	Nonce        string   `json:"nonce,omitempty"`
	Cluster      string   `json:"cluster,omitempty"`
	LeafNodeURLs []string `json:"leafnode_urls,omitempty"`
	// LeafNodeQUICURLs, Murmur's, lists the cluster's QUIC leaf listeners.
	LeafNodeQUICURLs []string `json:"leafnode_quic_urls,omitempty"`
	ConnectInfo      bool     `json:"connect_info,omitempty"`
	RemoteAccount    string   `json:"remote_account,omitempty"`
	IsSystemAccount  bool     `json:"acc_is_sys,omitempty"`
	InfoOnConnect    bool     `json:"info_on_connect,omitempty"`
	// Import and Export are the leaf user's permissions (leaf_perms.go).
	Import      *subjectPerm `json:"import,omitempty"`
	Export      *subjectPerm `json:"export,omitempty"`
	Compression string       `json:"compression,omitempty"` // leaf_compress.go (CONNECT says compress_mode)
}

// leafConnect is the CONNECT of a leaf (leaf to hub), nats-server's
// leafConnectInfo.
type leafConnect struct {
	Version       string   `json:"version,omitempty"`
	Nkey          string   `json:"nkey,omitempty"`
	JWT           string   `json:"jwt,omitempty"`
	Sig           string   `json:"sig,omitempty"`
	User          string   `json:"user,omitempty"`
	Pass          string   `json:"pass,omitempty"`
	Token         string   `json:"auth_token,omitempty"`
	ID            string   `json:"server_id,omitempty"`
	Name          string   `json:"name,omitempty"`
	Hub           bool     `json:"is_hub,omitempty"`
	Cluster       string   `json:"cluster,omitempty"`
	Headers       bool     `json:"headers,omitempty"`
	DenyPub       []string `json:"deny_pub,omitempty"`
	Compression   string   `json:"compress_mode,omitempty"`
	Gateway       string   `json:"gateway,omitempty"`
	RemoteAccount string   `json:"remote_account,omitempty"`
	Proto         int      `json:"protocol,omitempty"`
	// Isolate asks the hub to keep its other leaves' interest from this
	// connection (nats-server's request_isolation).
	Isolate bool `json:"isolate,omitempty"`
	// Lang is sent by clients only: one on the leaf port is refused.
	Lang string `json:"lang,omitempty"`
}

// The -ERR texts of the leaf handshake, as nats-server's.
const (
	errTextLeafClientPort  = "attempted to connect to leaf node port"
	errTextLeafSameCluster = "remote leafnode has same cluster name"
)

// leafHandshakeTimeout bounds a dialer's handshake.
const leafHandshakeTimeout = 5 * time.Second

// leafInfoFor is the hub's INFO for the leaf connection cid; secured: it
// came over a transport with TLS of its own or none to add (WebSocket,
// QUIC), so INFO asks for no TLS handshake.
func (s *Server) leafInfoFor(cid uint64, nonce []byte, secured bool) leafInfo {
	o := s.o()
	var host string
	var port int
	if ln := s.leafs.ln; ln != nil {
		host, port = splitHostPort(ln.Addr())
	}
	li := leafInfo{
		ID: s.id, Name: s.opts.Name, Version: Version, Proto: 1, GoVersion: runtime.Version(),
		Host: host, Port: port, Headers: true, AuthRequired: true, MaxPayload: o.MaxPayload,
		CID: cid, Nonce: string(nonce), LeafNodeURLs: s.leafURLs(), LeafNodeQUICURLs: s.leafQUICURLs(), InfoOnConnect: true,
	}
	if len(li.LeafNodeURLs) == 0 {
		// A leaf refuses an INFO without any: a QUIC-only hub names its
		// QUIC listener, as before there was a list of those.
		if u := s.ownLeafQUICURL(); u != "" {
			li.LeafNodeURLs = []string{u}
		} else {
			li.LeafNodeURLs = []string{net.JoinHostPort(host, strconv.Itoa(port))}
		}
	}
	if s.opts.Cluster != nil {
		li.Cluster = s.opts.Cluster.Name
	}
	if t := o.LeafNode.TLS; t != nil && !secured {
		li.TLSRequired = true
		li.TLSVerify = t.Config.ClientAuth == tls.RequireAndVerifyClientCert
	}
	return li
}

// acceptLeaf runs the hub's side of the handshake on an accepted
// connection (plain: over TCP, where leafnodes.tls applies): INFO, the leaf's CONNECT, authentication, INFO with the
// bound account; then the connection starts (leaf interest first).
func (s *Server) acceptLeaf(nc net.Conn, plain bool) {
	defer s.wg.Done()
	o := s.o().LeafNode
	timeout := o.AuthTimeout
	if timeout <= 0 {
		timeout = DefaultAuthTimeout
	}
	start := time.Now()
	_ = nc.SetDeadline(start.Add(timeout))
	cid := s.nextID.Add(1)
	nonce := newNonce()
	info := s.leafInfoFor(cid, nonce, !plain)
	comp := newLeafComp(o.Compression, nc)
	if err := writeJSONLine(nc, "INFO", comp.firstInfo(info)); err != nil {
		nc.Close()
		return
	}
	if t := o.TLS; t != nil && plain {
		// After INFO, as nats-server's createLeafNode: the leaf reads
		// tls_required and starts the handshake.
		tc := tls.Server(nc, t.Config)
		if err := tc.Handshake(); err != nil {
			s.stats.tlsFailures.Add(1)
			s.log.Info("leaf node TLS handshake failed", zap.Stringer("remote", nc.RemoteAddr()), zap.Error(err))
			nc.Close()
			return
		}
		nc = tc
	}
	refuse := func(text, why string) {
		s.log.Info("leaf node refused", zap.Stringer("remote", nc.RemoteAddr()), zap.String("why", why))
		_, _ = nc.Write(errLine(text))
		nc.Close()
	}
	var lc leafConnect
	line, err := readLine(nc)
	if err == nil {
		nc, line, err = s.hubCompression(nc, line, info, start, comp)
	}
	if err == nil {
		err = decodeJSONLine(line, "CONNECT", &lc)
	}
	if err != nil {
		s.stats.authFailures.Add(1)
		refuse(proto.ErrTextAuthViolation, err.Error())
		return
	}
	comp.connectCompression(&lc)
	switch {
	case lc.Lang != "":
		refuse(errTextLeafClientPort, "a client on the leaf node port")
		return
	case lc.Cluster != "" && s.opts.Cluster != nil && lc.Cluster == s.opts.Cluster.Name:
		refuse(errTextLeafSameCluster, "leaf has this broker's cluster name")
		return
	}
	acc, u, err := s.leafAuth(&lc, nonce, cid, nc)
	if err != nil {
		s.stats.authFailures.Add(1)
		refuse(proto.ErrTextAuthViolation, err.Error())
		s.leafAuthFailed(cid, nc, &lc, start)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	l := newLeaf(s, cid, nc, acc, false)
	l.comp = comp
	l.plain = plain
	l.peer = leafPeer{ID: lc.ID, Name: lc.Name, Version: lc.Version, Cluster: lc.Cluster, Account: lc.RemoteAccount}
	l.headers = lc.Headers
	info.Import, info.Export = l.setHubPerms(u.permsOrNil(), lc.DenyPub)
	l.user = u.nameOrEmpty()
	l.login = &leafLogin{connect: lc, nonce: nonce, callout: u != nil && u.callout, imp: info.Import, exp: info.Export}
	l.isolated = s.opts.LeafNode.IsolateInterest || lc.Isolate
	l.log = leafLog(s, nc, l.peer, false)
	info.ConnectInfo, info.RemoteAccount, info.IsSystemAccount = true, acc.name, acc == s.sysacc
	b, _ := json.Marshal(&info)
	l.enqueue(append(append([]byte("INFO "), b...), crlf...))
	if s.startLeaf(l) != nil {
		return
	}
	// A route came or went during the handshake, before this leaf was
	// registered to hear of it.
	if urls, quicURLs := s.leafURLs(), s.leafQUICURLs(); !slices.Equal(info.LeafNodeURLs, urls) || !slices.Equal(info.LeafNodeQUICURLs, quicURLs) {
		s.sendLeafURLs(l, urls, quicURLs)
	}
}

// compileLeafAuth is the leafnodes authorization block as an authState
// (nil: leaves authenticate as clients do).
func compileLeafAuth(o *LeafNodeOptions) *authState {
	if o.User == "" && len(o.Users) == 0 {
		return nil
	}
	st := &authState{users: map[string]*userEntry{}, nkeys: map[string]*userEntry{}, timeout: o.AuthTimeout}
	acc := func(a string) string {
		if a == "" {
			return GlobalAccount
		}
		return a
	}
	if o.User != "" {
		st.add(User{Name: o.User, Password: o.Password}, acc(o.Account))
	}
	for _, u := range o.Users {
		st.add(User{Name: u.Name, Password: u.Password}, acc(u.Account))
	}
	return st
}

// dialLeaf connects to one URL of remote r and runs the leaf's side of
// the handshake: the hub's INFO, our CONNECT, the hub's INFO with the
// account we are bound to there. It returns the started connection.
func (s *Server) dialLeaf(ctx context.Context, r *leafRemote, u *url.URL) (*leaf, error) {
	ctx, cancel := context.WithTimeout(ctx, leafHandshakeTimeout)
	defer cancel()
	nc, err := dialLeafConn(ctx, u, &r.opts)
	if err != nil {
		return nil, err
	}
	start, cid := time.Now(), s.nextID.Add(1)
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	// A shutdown ends the handshake at once, not at its deadline. (stop
	// runs before cancel, so a finished handshake is left alone.) The
	// dialed connection's deadline, not nc's: nc becomes the TLS or S2
	// layer over it on this goroutine while a shutdown may fire.
	raw := nc
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (*leaf, error) {
		nc.Close()
		return nil, err
	}
	var hub leafInfo
	if err := readJSONLine(nc, "INFO", &hub); err != nil {
		return fail(err)
	}
	if hub.CID == 0 || hub.LeafNodeURLs == nil {
		return fail(errors.New("not a leaf node port (INFO has no client_id or leafnode_urls)"))
	}
	r.learn(hub.LeafNodeURLs, hub.LeafNodeQUICURLs, u)
	if (u.Scheme == "nats" || u.Scheme == "nats-leaf" || u.Scheme == "tls") && (hub.TLSRequired || r.opts.TLS != nil || u.Scheme == "tls") {
		if !hub.TLSRequired {
			return fail(errors.New("TLS is configured for this remote, but the hub does not offer it"))
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if r.opts.TLS != nil {
			cfg = r.opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			s.stats.tlsFailures.Add(1)
			return fail(fmt.Errorf("TLS: %w", err))
		}
		nc = tc
	}
	comp := newLeafComp(r.opts.Compression, nc)
	if nc, err = s.leafSideCompression(nc, cid, &hub, start, comp); err != nil {
		return fail(err)
	}
	lc := leafConnect{
		Version: Version, ID: s.id, Name: s.opts.Name, Headers: true,
		DenyPub: r.opts.DenyImports, RemoteAccount: r.acc.name, Proto: 1,
		Isolate:     r.opts.RequestIsolation,
		Compression: comp.Mode(),
	}
	if s.opts.Cluster != nil {
		lc.Cluster = s.opts.Cluster.Name
	}
	if u.User != nil {
		lc.User = u.User.Username()
		lc.Pass, _ = u.User.Password()
	}
	if r.opts.Credentials != "" {
		if lc.JWT, lc.Sig, err = signWithCreds(r.opts.Credentials, []byte(hub.Nonce)); err != nil {
			return fail(err)
		}
	}
	if err := writeJSONLine(nc, "CONNECT", &lc); err != nil {
		return fail(err)
	}
	if hub.InfoOnConnect {
		line, err := readLine(nc)
		if err != nil {
			return fail(err)
		}
		if bytes.HasPrefix(line, []byte("-ERR")) {
			if bytes.Contains(line, []byte("Loop detected")) {
				r.delayNext(leafLoopReconnectDelay)
			}
			return fail(fmt.Errorf("hub refused: %s", line))
		}
		arg, ok := bytes.CutPrefix(line, []byte("INFO "))
		if !ok {
			return fail(fmt.Errorf("expected INFO, got %.40q", line))
		}
		var second leafInfo
		if err := json.Unmarshal(arg, &second); err != nil {
			return fail(fmt.Errorf("bad INFO: %w", err))
		}
		hub.RemoteAccount = second.RemoteAccount
		hub.Import, hub.Export = second.Import, second.Export
	}
	if !stop() {
		return fail(fmt.Errorf("handshake: %w", ctx.Err()))
	}
	_ = nc.SetDeadline(time.Time{})
	l := newLeaf(s, cid, nc, r.acc, true)
	l.comp = comp
	l.plain = u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "quic"
	l.remote, l.via = r, u
	l.peer = leafPeer{ID: hub.ID, Name: hub.Name, Version: hub.Version, Cluster: hub.Cluster, Account: hub.RemoteAccount}
	l.headers = hub.Headers
	l.setSpokePerms(hub.Import, hub.Export, &r.opts)
	l.isolated = s.opts.LeafNode.IsolateInterest || r.opts.Isolate
	l.log = leafLog(s, nc, l.peer, true)
	if err := s.startLeaf(l); err != nil {
		return nil, err
	}
	return l, nil
}

// signWithCreds reads a .creds file and returns its user JWT and the
// signature of nonce with its seed (base64url, as nats.go sends it).
func signWithCreds(path string, nonce []byte) (jwt, sig string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("credentials: %w", err)
	}
	jwt, err = nkeys.ParseDecoratedJWT(b)
	if err != nil {
		return "", "", fmt.Errorf("credentials %s: %w", path, err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", "", fmt.Errorf("credentials %s: %w", path, err)
	}
	defer kp.Wipe()
	raw, err := kp.Sign(nonce)
	if err != nil {
		return "", "", fmt.Errorf("credentials %s: %w", path, err)
	}
	return jwt, base64.RawURLEncoding.EncodeToString(raw), nil
}

// leafErr handles the peer's -ERR: a loop report delays our next dial, as
// nats-server's leafProcessErr; the connection closes.
func (l *leaf) leafErr(arg []byte) error {
	if l.remote != nil && strings.Contains(string(arg), "Loop detected") {
		l.remote.delayNext(leafLoopReconnectDelay)
	}
	return l.peerErr(arg)
}

// tcpDial dials a leaf node listener over plain TCP.
func tcpDial(ctx context.Context, addr string) (net.Conn, error) { return tcp.New().Dial(ctx, addr) }
