package broker

import (
	"crypto/tls"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/internal/proto"
)

// DefaultTLSTimeout bounds a client's TLS handshake when TLSOptions.Timeout
// is unset (nats-server's 2 s).
const DefaultTLSTimeout = 2 * time.Second

var errAuthFailed = errors.New("authorization violation")

// run is a client's first goroutine: it sends INFO, does TLS when the
// listener requires it, starts the writer, then becomes the reader.
func (c *client) run() {
	if err := c.handshake(); err != nil {
		c.log.Info("client handshake failed", zap.Error(err))
		c.nc.Close()
		c.markClosing(TLSHandshakeError)
		close(c.readerDone)
		c.srv.removeClient(c)
		c.srv.wg.Done()
		return
	}
	c.log.Debug("client connected", zap.String("transport", c.transport))
	c.startAuthTimer()
	c.srv.wg.Add(1)
	go c.writeLoop()
	c.readLoop()
}

// handshake writes INFO and runs TLS (before INFO with handshake_first,
// after it otherwise, which is what nats.go expects from tls_required).
func (c *client) handshake() error {
	o := c.srv.o()
	var tlsOpts *TLSOptions
	if o.TLS != nil && c.transport == "tcp" {
		tlsOpts = o.TLS
	}
	if tlsOpts != nil && tlsOpts.HandshakeFirst {
		if err := c.startTLS(tlsOpts); err != nil {
			return err
		}
	}
	info := c.srv.infoFor(c.ln, c.cid, c.remote, c.nonce)
	_ = c.nc.SetWriteDeadline(time.Now().Add(o.WriteDeadline))
	if _, err := c.nc.Write(info); err != nil {
		return err
	}
	_ = c.nc.SetWriteDeadline(time.Time{})
	if tlsOpts != nil && !tlsOpts.HandshakeFirst {
		return c.startTLS(tlsOpts)
	}
	return nil
}

func (c *client) startTLS(o *TLSOptions) error {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTLSTimeout
	}
	tc := tls.Server(c.nc, o.Config)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.srv.stats.tlsFailures.Add(1)
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc = tc
	if o.Map {
		c.certIDs = certIdentities(tc.ConnectionState())
	}
	return nil
}

// startAuthTimer closes a client that has not authenticated in time.
func (c *client) startAuthTimer() {
	st := c.srv.authFor(c.ln)
	if st == nil {
		c.markAuthed()
		return
	}
	c.parser.RequireConnect = true
	timeout := st.timeout // the listener's override, else the server's
	c.mu.Lock()
	c.authTimer = time.AfterFunc(timeout, func() {
		if !c.authed.Load() && !c.connectSeen.Load() && !c.closingNow.Load() {
			c.log.Info("authentication timeout, closing")
			c.srv.stats.authFailures.Add(1)
			c.sendErr(proto.ErrTextAuthTimeout)
			c.close(AuthenticationTimeout)
		}
	})
	c.mu.Unlock()
}

func (c *client) markAuthed() {
	c.authed.Store(true)
	c.pingHold.Store(false)
	c.mu.Lock()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	c.mu.Unlock()
}

// certIdentities are the names a verified client certificate offers as
// a user, in nats-server's order: its email addresses, DNS names and URIs,
// then its subject as an RFC 2253 string ("CN=alice,O=Acme"). The result
// is never nil, so an unnamed certificate maps to no user.
func certIdentities(cs tls.ConnectionState) []string {
	ids := []string{}
	if len(cs.PeerCertificates) == 0 {
		return ids
	}
	cert := cs.PeerCertificates[0]
	ids = append(ids, cert.EmailAddresses...)
	ids = append(ids, cert.DNSNames...)
	for _, u := range cert.URIs {
		ids = append(ids, u.String())
	}
	return append(ids, cert.Subject.String())
}
