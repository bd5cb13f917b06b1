package ws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/murmurmq/murmur/transport"
)

// Listener accepts TCP connections and hands out those that completed the
// WebSocket upgrade. A slow or silent peer must not hold up the others, so
// Accept never touches a connection that is not ready: a goroutine owned by
// the listener upgrades each new socket, bounded by the handshake timeout,
// and at most Backlog connections are being upgraded or waiting for Accept.
type Listener struct {
	ln     net.Listener
	t      *Transport
	ctx    context.Context // cancelled by Close; every handshake watches it
	cancel context.CancelFunc

	slots chan struct{} // one token per connection between accept and Accept
	ready chan *Conn    // capacity Backlog: a goroutine holding a slot never blocks on it

	wg       sync.WaitGroup // acceptLoop and every handshake goroutine
	loopDone chan struct{}
	loopErr  error // why acceptLoop returned; read after loopDone

	closeOnce sync.Once
	closeErr  error
}

var _ transport.Listener = (*Listener)(nil)

func newListener(ln net.Listener, t *Transport) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	backlog := t.st.Load().cfg.Backlog
	l := &Listener{
		ln:       ln,
		t:        t,
		ctx:      ctx,
		cancel:   cancel,
		slots:    make(chan struct{}, backlog),
		ready:    make(chan *Conn, backlog),
		loopDone: make(chan struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

var errListenerClosed = fmt.Errorf("ws: listener closed: %w", net.ErrClosed)

// Accept returns the next upgraded connection; the broker may send INFO on
// it at once. It blocks until one is ready or the listener is closed (an
// error wrapping net.ErrClosed) or the TCP listener failed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		<-l.slots
		return c, nil
	case <-l.ctx.Done():
		return nil, errListenerClosed
	case <-l.loopDone:
		select {
		case c := <-l.ready:
			<-l.slots
			return c, nil
		default:
			return nil, l.loopErr
		}
	}
}

// Addr is the bound TCP address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, ends the handshakes in flight, closes the
// connections upgraded but not yet accepted, and returns once all of the
// listener's goroutines have exited. Accepted connections stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.ln.Close()
		l.wg.Wait()
		for {
			select {
			case c := <-l.ready:
				c.closeWithStatus(StatusGoingAway, "listener closed")
			default:
				return
			}
		}
	})
	return l.closeErr
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	defer close(l.loopDone)
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.ctx.Done():
			l.loopErr = errListenerClosed
			return
		}
		nc, err := l.ln.Accept()
		if err != nil {
			<-l.slots
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				l.loopErr = errListenerClosed
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.loopErr = fmt.Errorf("ws: accept: %w", err)
			return
		}
		l.wg.Add(1)
		go l.handshake(nc)
	}
}

func (l *Listener) handshake(nc net.Conn) {
	defer l.wg.Done()
	c, err := l.t.upgrade(l.ctx, nc)
	if err != nil {
		<-l.slots
		nc.Close()
		return
	}
	l.ready <- c // never blocks: our slot guarantees room
}
