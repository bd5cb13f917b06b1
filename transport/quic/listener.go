package quic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/murmurmq/murmur/transport"
)

// Listener accepts QUIC connections and hands out their first bidirectional
// stream, once it has carried a correct Preface, as a *Conn.
//
// A peer that is slow to open its stream must not hold up the others, so
// Accept never touches a connection that is not ready: a goroutine owned by
// the listener waits for each new connection's stream and preface, bounded by
// PrefaceTimeout, and at most Backlog connections are in that state or waiting
// for Accept at once.
type Listener struct {
	ep     *endpoint
	ln     *quicgo.Listener
	cfg    Config
	ctx    context.Context // cancelled by Close; every listener goroutine watches it
	cancel context.CancelFunc

	slots chan struct{} // one token per connection between quic-go and Accept
	ready chan *Conn    // capacity Backlog, so a goroutine holding a slot never blocks here

	wg       sync.WaitGroup // acceptLoop and every handshake goroutine
	loopDone chan struct{}  // closed when acceptLoop returns
	loopErr  error          // why acceptLoop returned; read only after loopDone

	closeOnce sync.Once
	closeErr  error

	// The socket outlives the listener while connections taken from quic-go
	// are alive; the last of Close and those connections' ends closes it.
	mu     sync.Mutex
	live   int  // connections taken from quic-go and not yet ended
	closed bool // Close has finished with everything but the socket
}

var _ transport.Listener = (*Listener)(nil)

func newListener(ep *endpoint, ln *quicgo.Listener, cfg Config) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		ep:       ep,
		ln:       ln,
		cfg:      cfg,
		ctx:      ctx,
		cancel:   cancel,
		slots:    make(chan struct{}, cfg.Backlog),
		ready:    make(chan *Conn, cfg.Backlog),
		loopDone: make(chan struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// errListenerClosed is what Accept returns after Close, as transport.Listener
// requires.
var errListenerClosed = fmt.Errorf("quic: listener closed: %w", net.ErrClosed)

// Accept returns the next connection whose stream has delivered the preface;
// the broker may send INFO on it at once. It blocks until one is ready, the
// listener is closed (an error wrapping net.ErrClosed) or the UDP socket
// fails.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		<-l.slots
		return c, nil
	case <-l.ctx.Done():
		return nil, errListenerClosed
	case <-l.loopDone:
		// Connections already past their preface are still worth serving.
		select {
		case c := <-l.ready:
			<-l.slots
			return c, nil
		default:
			return nil, l.loopErr
		}
	}
}

// Addr is the bound UDP address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes with CodeShutdown every connection not yet
// returned by Accept, and returns once all of the listener's goroutines have
// exited. Connections already returned stay open, and so does the UDP socket
// they share: the port is released when the last of them has ended.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.ln.Close() // returns after quic-go's in-flight handshakes end
		l.wg.Wait()
		// Connections that completed the handshake after acceptLoop stopped are
		// still queued inside quic-go; once closed, its Accept drains that queue
		// without blocking and then fails.
		for {
			qc, err := l.ln.Accept(context.Background())
			if err != nil {
				break
			}
			_ = qc.CloseWithError(CodeShutdown, "listener closed")
		}
	drain:
		for {
			select {
			case c := <-l.ready:
				_ = c.CloseWithError(CodeShutdown, "listener closed")
			default:
				break drain
			}
		}
		l.mu.Lock()
		l.closed = true
		last := l.live == 0
		l.mu.Unlock()
		if last {
			l.ep.close()
		}
	})
	return l.closeErr
}

// track counts qc as alive until its context ends, however it ends (our
// Close, the peer's, an idle timeout), so the socket is closed after the last
// one without relying on the broker to call Close.
func (l *Listener) track(qc *quicgo.Conn) {
	l.mu.Lock()
	l.live++
	l.mu.Unlock()
	context.AfterFunc(qc.Context(), func() {
		l.mu.Lock()
		l.live--
		last := l.live == 0 && l.closed
		l.mu.Unlock()
		if last {
			l.ep.close()
		}
	})
}

// acceptLoop takes handshaken connections from quic-go, one slot each, and
// starts a handshake goroutine per connection.
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
		qc, err := l.ln.Accept(l.ctx)
		if err != nil {
			<-l.slots
			if l.ctx.Err() != nil {
				err = errListenerClosed
			}
			l.loopErr = fmt.Errorf("quic: accept: %w", err)
			return
		}
		l.track(qc)
		l.wg.Add(1)
		go l.handshake(qc)
	}
}

// handshake waits for qc's stream and preface and queues the result for
// Accept, or closes qc with the code that tells the peer why.
func (l *Listener) handshake(qc *quicgo.Conn) {
	defer l.wg.Done()
	c, code, err := l.awaitStream(qc)
	if err != nil {
		<-l.slots
		_ = qc.CloseWithError(code, err.Error())
		return
	}
	// Never blocks: the slot we hold guarantees room in ready. Close drains it.
	l.ready <- c
}

// awaitStream returns the connection's stream as a *Conn once the preface has
// arrived, or the close code and reason for a peer that failed to send it.
func (l *Listener) awaitStream(qc *quicgo.Conn) (*Conn, quicgo.ApplicationErrorCode, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.PrefaceTimeout)
	defer cancel()
	// codeFor tells a timeout from a shutdown; both surface as ctx errors.
	codeFor := func(err error) (quicgo.ApplicationErrorCode, error) {
		switch {
		case l.ctx.Err() != nil:
			return CodeShutdown, errors.New("listener closed")
		case ctx.Err() != nil:
			return CodePrefaceTimeout, errors.New("no stream and preface within " + l.cfg.PrefaceTimeout.String())
		default:
			return CodeProtocolError, err
		}
	}

	str, err := qc.AcceptStream(ctx)
	if err != nil {
		code, err := codeFor(err)
		return nil, code, err
	}
	// The stream has no context-aware Read, so the deadline is enforced by
	// expiring the read deadline when ctx ends (timeout or Close).
	stop := context.AfterFunc(ctx, func() { _ = str.SetReadDeadline(time.Now()) })
	err = readPreface(str)
	if !stop() {
		code, err := codeFor(err)
		return nil, code, err
	}
	if err != nil {
		return nil, CodeProtocolError, err
	}
	return newConn(qc, str, l.cfg.CloseLinger), 0, nil
}
