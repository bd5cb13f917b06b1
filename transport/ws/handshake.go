package ws

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// wsGUID is appended to the client's key for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// HandshakeError is a refused upgrade: the HTTP status sent and why.
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket handshake error: %d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

func refuse(status int, reason string) *HandshakeError {
	return &HandshakeError{Status: status, Reason: reason}
}

// upgrade runs the server side of the handshake on a new socket: TLS when
// configured, then the HTTP upgrade with nats-server's checks, in that
// order (RFC 6455 section 4.2.1), all within the handshake timeout. A
// refused request gets an HTTP error response naming the reason.
func (t *Transport) upgrade(ctx context.Context, nc net.Conn) (*Conn, error) {
	st := t.st.Load()
	_ = nc.SetDeadline(time.Now().Add(st.cfg.HandshakeTimeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	raw := nc
	if st.cfg.TLS != nil {
		tc := tls.Server(nc, st.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		raw = tc
	}
	br := bufio.NewReaderSize(raw, readBufSize)
	req, err := http.ReadRequest(br)
	if err != nil {
		writeRefusal(raw, refuse(http.StatusBadRequest, "malformed HTTP request"))
		return nil, fmt.Errorf("read upgrade request: %w", err)
	}
	if req.Body != nil {
		req.Body.Close()
		req.Body = http.NoBody
	}
	compress, herr := st.check(req, raw != nc)
	if herr == nil && br.Buffered() > 0 {
		herr = refuse(http.StatusBadRequest, "client sent data before handshake is complete")
	}
	if herr != nil {
		writeRefusal(raw, herr)
		return nil, herr
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(acceptKey(req.Header.Get("Sec-WebSocket-Key")))
	b.WriteString("\r\n")
	if compress {
		b.WriteString("Sec-WebSocket-Extensions: " + pmcResponse + "\r\n")
	}
	for _, k := range slices.Sorted(maps.Keys(st.cfg.Headers)) {
		b.WriteString(k + ": " + st.cfg.Headers[k] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := raw.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	if !stop() {
		return nil, context.Cause(ctx)
	}
	_ = nc.SetDeadline(time.Time{})
	return newConn(raw, br, true, compress, st.cfg.MaxMessage, req), nil
}

// check applies nats-server's upgrade checks; it returns whether
// permessage-deflate is on.
func (t *settings) check(r *http.Request, overTLS bool) (bool, *HandshakeError) {
	switch {
	case r.Method != http.MethodGet:
		return false, refuse(http.StatusMethodNotAllowed, "request method must be GET")
	case r.Host == "":
		return false, refuse(http.StatusBadRequest, "'Host' missing in request")
	case !headerContains(r.Header, "Upgrade", "websocket"):
		return false, refuse(http.StatusBadRequest, "invalid value for header 'Upgrade'")
	case !headerContains(r.Header, "Connection", "Upgrade"):
		return false, refuse(http.StatusBadRequest, "invalid value for header 'Connection'")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		return false, refuse(http.StatusBadRequest, "key missing")
	}
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return false, refuse(http.StatusBadRequest, "invalid websocket key")
	}
	if !headerContains(r.Header, "Sec-WebSocket-Version", "13") {
		return false, refuse(http.StatusBadRequest, "invalid version")
	}
	if err := t.origins.check(r, overTLS); err != nil {
		return false, refuse(http.StatusForbidden, "origin not allowed: "+err.Error())
	}
	return t.cfg.Compression && offersDeflate(r.Header.Values("Sec-WebSocket-Extensions")), nil
}

// headerContains reports whether a comma-separated header has token value.
func headerContains(h http.Header, name, value string) bool {
	for _, v := range h.Values(name) {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), value) {
				return true
			}
		}
	}
	return false
}

// writeRefusal answers a refused upgrade, as nats-server does, with the
// status, Sec-WebSocket-Version: 13, and the reason as the body.
func writeRefusal(w net.Conn, e *HandshakeError) {
	body := http.StatusText(e.Status) + ": " + e.Reason + "\n"
	_, _ = fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		e.Status, http.StatusText(e.Status), len(body), body)
}

// dial is the client side: TCP (and TLS), then the upgrade request for
// cfg.Path.
func dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := clientUpgrade(ctx, nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func clientUpgrade(ctx context.Context, nc net.Conn, addr string, cfg Config) (*Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	raw := nc
	scheme := "http"
	if cfg.TLS != nil {
		tcfg := cfg.TLS
		if tcfg.ServerName == "" && !tcfg.InsecureSkipVerify {
			host, _, _ := net.SplitHostPort(addr)
			tcfg = tcfg.Clone()
			tcfg.ServerName = host
		}
		tc := tls.Client(nc, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		raw, scheme = tc, "https"
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	ext := ""
	if cfg.Compression {
		ext = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
	}
	path := cfg.Path
	if path == "" {
		path = "/"
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: %s://%s\r\n%s\r\n", path, addr, key, scheme, addr, ext)
	if _, err := raw.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(raw, readBufSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("ws: read upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("ws: upgrade refused: %s", resp.Status)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return nil, errors.New("ws: bad Sec-WebSocket-Accept")
	}
	compress := offersDeflate(resp.Header.Values("Sec-WebSocket-Extensions"))
	if compress && !cfg.Compression {
		return nil, errors.New("ws: server accepted an extension that was not offered")
	}
	if !stop() {
		return nil, context.Cause(ctx)
	}
	_ = nc.SetDeadline(time.Time{})
	return newConn(raw, br, false, compress, cfg.MaxMessage, nil), nil
}
