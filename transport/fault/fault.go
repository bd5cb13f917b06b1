// Package fault wraps a transport so tests can degrade the connections it
// makes and accepts (a broker's routes, say) while everything else, such
// as gossip, stays up. It is the route-level counterpart of gossip.Faults.
//
// Faults apply to every connection of the Transport, open or yet to come,
// from the moment they are set until Heal:
//
//   - Cut(dir) stops the traffic in a direction as a network partition
//     does: nothing is lost, it waits. A Write that is cut blocks until
//     Heal, Close or its write deadline (then it fails with
//     os.ErrDeadlineExceeded, as a socket whose peer stopped reading); a
//     Read that is cut holds what arrived until Heal, Close or its read
//     deadline, and the kernel's buffers back the sender up.
//   - Drop(dir) loses the traffic in a direction: written bytes are
//     reported written and discarded, read bytes are discarded and the
//     Read waits for more. A byte stream with a hole in it is garbage to
//     the protocol on top, so expect the peer to close the connection.
//   - Delay(d) holds each Write for d before it goes out.
//   - Heal clears every fault; held Reads and Writes go on.
//
// Directions are seen from this side: Outbound is what this side writes,
// Inbound what it reads. Give each broker its own Transport to cut that
// broker's routes alone. All methods are safe for concurrent use.
package fault

import (
	"context"
	"net"
	"os"
	"sync"
	"time"

	"github.com/murmurmq/murmur/transport"
)

// Direction selects which way a fault applies.
type Direction uint8

// Directions, seen from the wrapped side.
const (
	Inbound Direction = 1 << iota
	Outbound
	Both = Inbound | Outbound
)

// Transport is a transport.Transport whose connections obey the faults set
// on it.
type Transport struct {
	inner transport.Transport

	mu      sync.Mutex
	changed *sync.Cond // broadcast on every fault change and close
	cut     Direction
	drop    Direction
	delay   time.Duration
	conns   int // open connections, for Conns
	dropped int64
}

var _ transport.Transport = (*Transport)(nil)

// New wraps inner; with no fault set it passes everything through.
func New(inner transport.Transport) *Transport {
	t := &Transport{inner: inner}
	t.changed = sync.NewCond(&t.mu)
	return t
}

// Name is the wrapped transport's name.
func (t *Transport) Name() string { return t.inner.Name() }

// Listen listens with the wrapped transport; accepted connections obey
// the faults.
func (t *Transport) Listen(addr string) (transport.Listener, error) {
	ln, err := t.inner.Listen(addr)
	if err != nil {
		return nil, err
	}
	return &listener{Listener: ln, t: t}, nil
}

// Dial dials with the wrapped transport; the connection obeys the faults.
func (t *Transport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := t.inner.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return t.wrap(c), nil
}

// Cut stops traffic in dir (see the package doc).
func (t *Transport) Cut(dir Direction) { t.set(func() { t.cut |= dir }) }

// Drop loses traffic in dir (see the package doc).
func (t *Transport) Drop(dir Direction) { t.set(func() { t.drop |= dir }) }

// Delay holds each Write for d (0: none).
func (t *Transport) Delay(d time.Duration) { t.set(func() { t.delay = d }) }

// Heal clears every fault.
func (t *Transport) Heal() { t.set(func() { t.cut, t.drop, t.delay = 0, 0, 0 }) }

// Conns is the number of open connections.
func (t *Transport) Conns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns
}

// Dropped is the number of bytes lost to Drop so far.
func (t *Transport) Dropped() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

func (t *Transport) set(change func()) {
	t.mu.Lock()
	change()
	t.changed.Broadcast()
	t.mu.Unlock()
}

func (t *Transport) wrap(c net.Conn) *conn {
	t.mu.Lock()
	t.conns++
	t.mu.Unlock()
	return &conn{Conn: c, t: t}
}

type listener struct {
	transport.Listener
	t *Transport
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.t.wrap(c), nil
}

// conn is one connection under the transport's faults. Its deadlines and
// closed flag are guarded by t.mu.
type conn struct {
	net.Conn
	t            *Transport
	closed       bool
	rDead, wDead time.Time
	held         []byte // read while inbound was cut, not yet returned
	closeOnce    sync.Once
	readMu, wrMu sync.Mutex // one Read and one Write at a time, as net.Conn users do
}

// waitLocked waits while blocked() holds, until the deadline (returning
// os.ErrDeadlineExceeded) or Close (net.ErrClosed). Caller holds t.mu.
func (c *conn) waitLocked(blocked func() bool, deadline func() time.Time) error {
	for blocked() {
		if c.closed {
			return net.ErrClosed
		}
		d := deadline()
		if !d.IsZero() {
			left := time.Until(d)
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			timer := time.AfterFunc(left, func() {
				c.t.mu.Lock()
				c.t.changed.Broadcast()
				c.t.mu.Unlock()
			})
			c.t.changed.Wait()
			timer.Stop()
			continue
		}
		c.t.changed.Wait()
	}
	if c.closed {
		return net.ErrClosed
	}
	return nil
}

func (c *conn) Write(b []byte) (int, error) {
	c.wrMu.Lock()
	defer c.wrMu.Unlock()
	t := c.t
	t.mu.Lock()
	err := c.waitLocked(func() bool { return t.cut&Outbound != 0 }, func() time.Time { return c.wDead })
	drop, delay := t.drop&Outbound != 0, t.delay
	if err == nil && drop {
		t.dropped += int64(len(b))
	}
	t.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case drop:
		return len(b), nil
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	return c.Conn.Write(b)
}

func (c *conn) Read(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	t := c.t
	for {
		if len(c.held) == 0 {
			n, err := c.Conn.Read(b)
			if n == 0 {
				return 0, err
			}
			c.held = append(c.held[:0], b[:n]...)
		}
		t.mu.Lock()
		err := c.waitLocked(func() bool { return t.cut&Inbound != 0 }, func() time.Time { return c.rDead })
		drop := t.drop&Inbound != 0
		if err == nil && drop {
			t.dropped += int64(len(c.held))
		}
		t.mu.Unlock()
		switch {
		case err != nil:
			return 0, err
		case drop:
			c.held = c.held[:0]
			continue
		}
		n := copy(b, c.held)
		c.held = append(c.held[:0], c.held[n:]...)
		return n, nil
	}
}

func (c *conn) SetDeadline(d time.Time) error {
	c.setDeadlines(&d, &d)
	return c.Conn.SetDeadline(d)
}

func (c *conn) SetReadDeadline(d time.Time) error {
	c.setDeadlines(&d, nil)
	return c.Conn.SetReadDeadline(d)
}

func (c *conn) SetWriteDeadline(d time.Time) error {
	c.setDeadlines(nil, &d)
	return c.Conn.SetWriteDeadline(d)
}

func (c *conn) setDeadlines(r, w *time.Time) {
	c.t.mu.Lock()
	if r != nil {
		c.rDead = *r
	}
	if w != nil {
		c.wDead = *w
	}
	c.t.changed.Broadcast()
	c.t.mu.Unlock()
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.t.mu.Lock()
		c.closed = true
		c.t.conns--
		c.t.changed.Broadcast()
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite passes through, so a broker can still shut its write side.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
