package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/klauspost/compress/s2"
	"go.uber.org/zap"
)

// RouteHandshakeTimeout bounds the whole route handshake, authentication included.
const RouteHandshakeTimeout = 5 * time.Second

// compressionS2 is the only route compression Murmur speaks.
const compressionS2 = "s2"

// routeInfo is the JSON of a route INFO (acceptor to dialer) and CONNECT
// (dialer to acceptor). See docs/routes.md.
type routeInfo struct {
	ID          string   `json:"server_id"`
	Name        string   `json:"server_name"`
	Version     string   `json:"version"`
	Cluster     string   `json:"cluster"`
	Compression string   `json:"compression,omitempty"`
	Credential  string   `json:"credential,omitempty"`
	ConnectURLs []string `json:"connect_urls,omitempty"`
	RouteURL    string   `json:"route_url,omitempty"` // where peers dial this broker (implicit routes)
	// LeafNodeURLs is where leaves reach the sender's leaf node listener
	// (advertised to leaves for failover, docs/leafnodes.md).
	LeafNodeURLs []string `json:"leafnode_urls,omitempty"`
	// LeafNodeQUICURLs is the same for its QUIC leaf listener.
	LeafNodeQUICURLs []string `json:"leafnode_quic_urls,omitempty"`
}

// Route handshake errors, sent to the peer as -ERR before closing.
var (
	errClusterMismatch = errors.New("Cluster Name Mismatch")
	errRouteAuth       = errors.New("Authorization Violation")
	errDuplicateRoute  = errors.New("Duplicate Route")
	errSelfRoute       = errors.New("Route To Self")
	errNotMember       = errors.New("Not A Cluster Member")
)

func (s *Server) localRouteInfo() routeInfo {
	ri := routeInfo{ID: s.id, Name: s.opts.Name, Version: Version, Cluster: s.opts.Cluster.Name, RouteURL: s.localRouteURL()}
	if s.o().Cluster.Compression {
		ri.Compression = compressionS2
	}
	if s.opts.LeafNode != nil && !s.opts.LeafNode.NoAdvertise {
		if u := s.ownLeafURL(); u != "" {
			ri.LeafNodeURLs = []string{u}
		}
		if u := s.ownLeafQUICURL(); u != "" {
			ri.LeafNodeQUICURLs = []string{u}
		}
	}
	return ri
}

// acceptRoute runs the acceptor's side of the handshake: send INFO, read
// CONNECT, check cluster name and credential, answer +OK.
func (s *Server) acceptRoute(conn net.Conn) {
	defer s.wg.Done()
	_ = conn.SetDeadline(time.Now().Add(RouteHandshakeTimeout))
	info := s.localRouteInfo()
	if err := writeJSONLine(conn, "INFO", &info); err != nil {
		conn.Close()
		return
	}
	var peer routeInfo
	if err := readJSONLine(conn, "CONNECT", &peer); err != nil {
		s.log.Info("route handshake failed", zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err))
		conn.Close()
		return
	}
	if err := s.checkRoutePeer(&peer, true, false); err != nil {
		s.log.Warn("route refused", zap.Stringer("remote", conn.RemoteAddr()), zap.String("peer", peer.Name), zap.Error(err))
		_, _ = conn.Write(errLine(err.Error()))
		conn.Close()
		return
	}
	compress := info.Compression == compressionS2 && peer.Compression == compressionS2
	if _, err := conn.Write(okLine); err != nil {
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	s.startRoute(wrapRoute(conn, compress), &peer, false)
}

// ConnectRoute dials a peer's route address (with the cluster listener's
// transport) and runs the dialer's side of the handshake. It returns once
// the route is up or has failed.
func (s *Server) ConnectRoute(ctx context.Context, addr string) error {
	_, err := s.DialRoute(ctx, addr)
	return err
}

// DialRoute is ConnectRoute that also names the peer: its server id, known
// once its INFO is read (so also when the route then fails, a duplicate
// for one); "" when the dial or the INFO failed.
func (s *Server) DialRoute(ctx context.Context, addr string) (string, error) {
	if s.opts.Cluster == nil {
		return "", errors.New("broker: clustering is not configured")
	}
	if s.isShutdown() {
		// Else the peer would accept, register the route and advertise
		// our client URLs, only to see it close at once.
		return "", fmt.Errorf("dial route %s: %w", addr, ErrShuttingDown)
	}
	ctx, cancel := context.WithTimeout(ctx, RouteHandshakeTimeout)
	defer cancel()
	conn, err := s.opts.Cluster.Listen.Transport.Dial(ctx, addr)
	if err != nil {
		return "", fmt.Errorf("dial route %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	fail := func(err error) error {
		conn.Close()
		return fmt.Errorf("route %s: %w", addr, err)
	}
	var peer routeInfo
	if err := readJSONLine(conn, "INFO", &peer); err != nil {
		return "", fail(err)
	}
	if err := s.checkRoutePeer(&peer, false, true); err != nil {
		return peer.ID, fail(err)
	}
	mine := s.localRouteInfo()
	mine.Credential = s.o().Cluster.Credential
	compress := mine.Compression == compressionS2 && peer.Compression == compressionS2
	if !compress {
		mine.Compression = ""
	}
	if err := writeJSONLine(conn, "CONNECT", &mine); err != nil {
		return peer.ID, fail(err)
	}
	line, err := readLine(conn)
	if err != nil {
		return peer.ID, fail(err)
	}
	if !bytes.Equal(line, []byte("+OK")) {
		return peer.ID, fail(fmt.Errorf("refused: %s", line))
	}
	_ = conn.SetDeadline(time.Time{})
	if !s.startRoute(wrapRoute(conn, compress), &peer, true) {
		return peer.ID, fmt.Errorf("route %s: %w", addr, errDuplicateRoute)
	}
	return peer.ID, nil
}

// checkRoutePeer validates a peer's INFO or CONNECT. The credential is
// checked by the acceptor only (the dialer presents it).
func (s *Server) checkRoutePeer(peer *routeInfo, acceptor, solicited bool) error {
	switch {
	case peer.ID == s.id:
		return errSelfRoute
	case peer.Cluster != s.opts.Cluster.Name:
		return errClusterMismatch
	case acceptor && peer.Credential != s.o().Cluster.Credential:
		return errRouteAuth
	}
	s.mu.Lock()
	admit := s.routeAdmission
	wanted := s.routeWantedLocked(peer.ID, solicited)
	s.mu.Unlock()
	if !wanted {
		return errDuplicateRoute
	}
	if admit != nil && !admit(peer.ID) {
		return errNotMember
	}
	return nil
}

func writeJSONLine(conn net.Conn, op string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	line := append(append([]byte(op+" "), b...), crlf...)
	_, err = conn.Write(line)
	return err
}

func readJSONLine(conn net.Conn, op string, v any) error {
	line, err := readLine(conn)
	if err != nil {
		return err
	}
	return decodeJSONLine(line, op, v)
}

// decodeJSONLine decodes a line read by readLine as readJSONLine does.
func decodeJSONLine(line []byte, op string, v any) error {
	if bytes.HasPrefix(line, []byte("-ERR")) {
		return fmt.Errorf("peer: %s", line)
	}
	arg, ok := bytes.CutPrefix(line, []byte(op+" "))
	if !ok {
		return fmt.Errorf("expected %s, got %.40q", op, line)
	}
	if err := json.Unmarshal(arg, v); err != nil {
		return fmt.Errorf("bad %s: %w", op, err)
	}
	return nil
}

// readLine reads one CRLF line a byte at a time, so nothing after it is
// consumed (compression may start right after).
func readLine(conn net.Conn) ([]byte, error) {
	var line []byte
	var b [1]byte
	for len(line) < 64*1024 {
		if _, err := conn.Read(b[:]); err != nil {
			return nil, err
		}
		if b[0] == '\n' {
			return bytes.TrimSuffix(line, []byte{'\r'}), nil
		}
		line = append(line, b[0])
	}
	return nil, errors.New("handshake line too long")
}

// wrapRoute returns conn, or conn with S2 stream compression both ways.
func wrapRoute(conn net.Conn, compress bool) net.Conn {
	if !compress {
		return conn
	}
	return &s2Conn{Conn: conn, r: s2.NewReader(conn), w: s2.NewWriter(conn, s2.WriterConcurrency(1))}
}

// s2Conn compresses a route. Each Write is one writer batch, flushed as a
// whole, so the peer can decode it without waiting for more.
type s2Conn struct {
	net.Conn
	r *s2.Reader
	w *s2.Writer
}

func (c *s2Conn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *s2Conn) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err == nil {
		err = c.w.Flush()
	}
	return n, err
}
