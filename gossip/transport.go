package gossip

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// errPartitioned is what a dial returns while Faults cut outgoing traffic.
var errPartitioned = errors.New("gossip: traffic cut by fault injection")

// transport wraps memberlist's NetTransport to add what memberlist lacks:
//
//   - Shutdown cancels dials in flight and closes every stream it handed
//     out or accepted, so no memberlist goroutine is left waiting on a slow
//     peer for TCPTimeout after Close;
//   - the Faults switch (nil = pass everything).
//
// Incoming packets and streams are forwarded from the inner transport's
// channels by two goroutines the transport owns; Shutdown stops them.
type transport struct {
	inner  *memberlist.NetTransport
	faults *Faults

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	ctx    context.Context // cancelled first thing in Shutdown; bounds dials
	cancel context.CancelFunc
	stop   chan struct{} // closed once the inner transport is down
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	closed   bool
	shutOnce sync.Once
	shutErr  error
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

func newTransport(inner *memberlist.NetTransport, faults *Faults) *transport {
	ctx, cancel := context.WithCancel(context.Background())
	t := &transport{
		inner:    inner,
		faults:   faults,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		ctx:      ctx,
		cancel:   cancel,
		stop:     make(chan struct{}),
		conns:    make(map[*trackedConn]struct{}),
	}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

// FinalAdvertiseAddr implements memberlist.Transport.
func (t *transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo implements memberlist.Transport.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport. A cut link loses
// the packet silently, as a real network would.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.faults.out() {
		return time.Now(), nil
	}
	return t.inner.WriteToAddress(b, a)
}

// PacketCh implements memberlist.Transport.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// StreamCh implements memberlist.Transport.
func (t *transport) StreamCh() <-chan net.Conn { return t.streamCh }

// DialTimeout implements memberlist.Transport.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport. The dial is
// abandoned when the transport shuts down.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.faults.out() {
		return nil, errPartitioned
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(t.ctx, "tcp", a.Addr)
	if err != nil {
		return nil, err
	}
	return t.track(c)
}

// Shutdown implements memberlist.Transport: it closes the listeners, every
// tracked stream, and waits for the forwarding goroutines. It is
// idempotent.
func (t *transport) Shutdown() error {
	t.shutOnce.Do(func() { t.shutErr = t.shutdown() })
	return t.shutErr
}

func (t *transport) shutdown() error {
	t.cancel()
	t.mu.Lock()
	t.closed = true
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
	// The forwarders keep draining the inner channels until the inner
	// listeners are gone (they block on unbuffered sends), and memberlist
	// keeps reading ours until this returns.
	err := t.inner.Shutdown()
	close(t.stop)
	t.wg.Wait()
	return err
}

func (t *transport) forwardPackets() {
	defer t.wg.Done()
	in := t.inner.PacketCh()
	for {
		select {
		case p := <-in:
			if t.faults.in() {
				continue
			}
			select {
			case t.packetCh <- p:
			case <-t.stop:
				return
			}
		case <-t.stop:
			return
		}
	}
}

func (t *transport) forwardStreams() {
	defer t.wg.Done()
	in := t.inner.StreamCh()
	for {
		select {
		case c := <-in:
			if t.faults.in() {
				_ = c.Close()
				continue
			}
			tc, err := t.track(c)
			if err != nil {
				continue // shutting down; track closed it
			}
			select {
			case t.streamCh <- tc:
			case <-t.stop:
				_ = tc.Close()
				return
			}
		case <-t.stop:
			return
		}
	}
}

// track registers c so Shutdown can close it. After Shutdown it closes c
// and fails.
func (t *transport) track(c net.Conn) (net.Conn, error) {
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	t.conns[tc] = struct{}{}
	return tc, nil
}

// trackedConn unregisters itself on Close.
type trackedConn struct {
	net.Conn
	t    *transport
	once sync.Once
}

// Close closes the connection and forgets it.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return err
}
