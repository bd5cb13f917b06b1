package fault

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is a connection made by a Transport: the inner connection with
// faults in the way. See the package doc for what each fault does.
type Conn struct {
	t      *Transport
	dialed bool
	target string

	mu            sync.Mutex
	inner         net.Conn // nil while dialing; then fixed
	local, remote net.Addr
	own           faults
	ch            chan struct{} // closed and replaced on every change
	rdl, wdl      time.Time     // deadlines as the caller set them
	closed        bool          // Close was called
	severed       bool
	wclosed       bool // CloseWrite was called
	held          bool // closed while Out was cut: the inner conn is still open
	finHeld       bool // CloseWrite while Out was cut: not passed on yet
	innerClosed   bool

	rmu        sync.Mutex // serialises Read; guards the fields below
	rbuf       []byte
	pending    []byte    // read from the inner conn, not delivered yet
	arrived    time.Time // when pending was read
	pendingErr error     // the peer's EOF or reset, after pending

	wmu sync.Mutex // serialises Write

	dropped atomic.Int64
}

var _ net.Conn = (*Conn)(nil)

// errNoCloseWrite is CloseWrite's error when the inner connection has none.
var errNoCloseWrite = errors.New("fault: the inner connection has no CloseWrite")

func (c *Conn) connected(inner net.Conn) {
	c.mu.Lock()
	c.inner, c.local, c.remote = inner, inner.LocalAddr(), inner.RemoteAddr()
	c.mu.Unlock()
}

// Transport is the transport that made c.
func (c *Conn) Transport() *Transport { return c.t }

// Dialed reports whether this end dialed c (else it accepted it).
func (c *Conn) Dialed() bool { return c.dialed }

// Target is the address c was dialed to, "" for an accepted connection.
func (c *Conn) Target() string { return c.target }

// LocalAddr implements net.Conn (nil while the connection is being dialed).
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// RemoteAddr implements net.Conn (nil while the connection is being dialed).
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// Dropped is how many bytes Drop has discarded on c so far.
func (c *Conn) Dropped() int64 { return c.dropped.Load() }

// Drop drops dir of c (in addition to its other faults).
func (c *Conn) Drop(dir Direction) { c.setOwn(func(f *faults) { f.drop |= dir & Both }) }

// Cut cuts dir of c (in addition to its other faults).
func (c *Conn) Cut(dir Direction) { c.setOwn(func(f *faults) { f.cut |= dir & Both }) }

// Delay sets c's own delay for dir to d per operation (0 removes it).
func (c *Conn) Delay(dir Direction, d time.Duration) {
	c.setOwn(func(f *faults) {
		if dir&In != 0 {
			f.delayIn = d
		}
		if dir&Out != 0 {
			f.delayOut = d
		}
	})
}

// Heal clears c's own faults; transport rules that match c still apply.
func (c *Conn) Heal() { c.setOwn(func(f *faults) { *f = faults{} }) }

func (c *Conn) setOwn(fn func(*faults)) {
	c.mu.Lock()
	fn(&c.own)
	c.mu.Unlock()
	c.update()
}

// Sever closes the inner connection at once, with a reset where the inner
// connection is TCP, whatever faults apply: the peer sees the close now,
// and this end's Read and Write fail with ErrSevered (net.ErrClosed after
// Close). Severing twice, or after Close, is harmless.
func (c *Conn) Sever() {
	c.mu.Lock()
	if c.severed {
		c.mu.Unlock()
		return
	}
	c.severed = true
	inner, done := c.inner, c.innerClosed
	c.mu.Unlock()
	c.signal()
	if inner != nil && !done {
		nc := inner
		if tc, ok := nc.(*tls.Conn); ok {
			nc = tc.NetConn()
		}
		if l, ok := nc.(interface{ SetLinger(int) error }); ok {
			_ = l.SetLinger(0)
		}
	}
	_ = c.closeInner()
}

// state is c's own faults merged with every transport rule matching c.
func (c *Conn) state() faults {
	c.mu.Lock()
	f := c.own
	c.mu.Unlock()
	for _, r := range *c.t.rules.Load() {
		if r.match(c) {
			f = f.merge(r.f)
		}
	}
	return f
}

// changed returns the channel the next change closes. Take it before
// evaluating the state, so no change is missed.
func (c *Conn) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

// signal wakes everything waiting on c to re-evaluate.
func (c *Conn) signal() {
	c.mu.Lock()
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

// update follows a change of faults: wake the waiters, and pass on a
// close or CloseWrite a cut was holding if the cut is gone.
func (c *Conn) update() {
	c.signal()
	c.settle()
}

func (c *Conn) settle() {
	c.mu.Lock()
	waiting := (c.held || c.finHeld) && !c.innerClosed
	c.mu.Unlock()
	if !waiting || c.state().cut&Out != 0 {
		return
	}
	c.mu.Lock()
	held, fin := c.held, c.finHeld && !c.held
	c.held, c.finHeld = false, false
	inner := c.inner
	c.mu.Unlock()
	switch {
	case held:
		_ = c.closeInner()
	case fin:
		if cw, ok := inner.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
}

func (c *Conn) open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inner != nil && !c.closed && !c.severed
}

func (c *Conn) closeInner() error {
	c.mu.Lock()
	if c.innerClosed {
		c.mu.Unlock()
		return nil
	}
	c.innerClosed = true
	inner := c.inner
	c.mu.Unlock()
	c.t.remove(c)
	if inner == nil {
		return nil
	}
	return inner.Close()
}

func (c *Conn) opError(op string, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &net.OpError{Op: op, Net: c.t.Name(), Source: c.local, Addr: c.remote, Err: err}
}

// opErr is the error an operation fails with at once: after Close or
// Sever. nil otherwise.
func (c *Conn) opErr(op string) error {
	c.mu.Lock()
	closed, severed := c.closed, c.severed
	c.mu.Unlock()
	switch {
	case closed:
		return c.opError(op, net.ErrClosed)
	case severed:
		return c.opError(op, ErrSevered)
	}
	return nil
}

// innerErr maps an inner connection's error: one caused by our own Close
// or Sever is reported as such.
func (c *Conn) innerErr(op string, err error) error {
	if e := c.opErr(op); e != nil {
		return e
	}
	return err
}

func (c *Conn) drop(n int) {
	c.dropped.Add(int64(n))
	c.t.dropped.Add(int64(n))
}

// wait blocks until ch is closed, until (when set), or the deadline (when
// set), whichever is first. It returns os.ErrDeadlineExceeded for the
// deadline, else nil.
func wait(ch <-chan struct{}, until, deadline time.Time) error {
	wake, timeout := until, false
	if !deadline.IsZero() && (until.IsZero() || deadline.Before(until)) {
		wake, timeout = deadline, true
	}
	if wake.IsZero() {
		<-ch
		return nil
	}
	d := time.Until(wake)
	if d <= 0 {
		if timeout {
			return os.ErrDeadlineExceeded
		}
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ch:
		return nil
	case <-tm.C:
		if timeout {
			return os.ErrDeadlineExceeded
		}
		return nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// Read implements net.Conn; see the package doc for the faults.
func (c *Conn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	stalled := false
	for {
		ch := c.changed()
		if err := c.opErr("read"); err != nil {
			return 0, err
		}
		c.mu.Lock()
		deadline := c.rdl
		c.mu.Unlock()
		f := c.state()
		var until time.Time
		switch {
		case f.cut&In != 0:
			if !stalled {
				stalled = true
				c.t.stalled.Add(1)
			}
		case len(c.pending) == 0 && c.pendingErr == nil:
			if len(b) == 0 {
				return 0, nil
			}
			if cap(c.rbuf) < len(b) {
				c.rbuf = make([]byte, len(b))
			}
			n, err := c.inner.Read(c.rbuf[:len(b)])
			if n > 0 {
				c.pending, c.arrived = c.rbuf[:n], time.Now()
			}
			if err != nil {
				if e := c.opErr("read"); e != nil {
					return 0, e
				}
				if isTimeout(err) {
					// Ours, not the peer's: report it now, or drop it
					// when data came with it.
					if n == 0 {
						return 0, err
					}
				} else {
					c.pendingErr = err // the peer's close: after its data
				}
			}
			continue // the faults may have changed during the read
		case f.drop&In != 0 && len(c.pending) > 0:
			c.drop(len(c.pending))
			c.pending = nil
			continue
		case f.delayIn > 0 && len(c.pending) > 0 && time.Now().Before(c.arrived.Add(f.delayIn)):
			until = c.arrived.Add(f.delayIn)
		case len(c.pending) > 0:
			n := copy(b, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		default:
			err := c.pendingErr
			c.pendingErr = nil
			return 0, err
		}
		if err := wait(ch, until, deadline); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// Write implements net.Conn; see the package doc for the faults.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	start := time.Now()
	stalled := false
	for {
		ch := c.changed()
		if err := c.opErr("write"); err != nil {
			return 0, err
		}
		c.mu.Lock()
		deadline, wclosed := c.wdl, c.wclosed
		c.mu.Unlock()
		if wclosed {
			return 0, c.opError("write", syscall.EPIPE)
		}
		f := c.state()
		var until time.Time
		switch {
		case f.cut&Out != 0:
			if !stalled {
				stalled = true
				c.t.stalled.Add(1)
			}
		case f.drop&Out != 0:
			c.drop(len(b))
			return len(b), nil
		case f.delayOut > 0 && time.Now().Before(start.Add(f.delayOut)):
			until = start.Add(f.delayOut)
		default:
			n, err := c.inner.Write(b)
			if err != nil {
				err = c.innerErr("write", err)
			}
			return n, err
		}
		if err := wait(ch, until, deadline); err != nil {
			return 0, c.opError("write", err)
		}
	}
}

// Close implements net.Conn. Read and Write fail with net.ErrClosed from
// now on; while Out is cut, the peer does not see the close until the cut
// heals (see the package doc).
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	inner, severed := c.inner, c.severed
	c.mu.Unlock()
	c.signal()
	if severed {
		return c.closeInner()
	}
	// End a Read or Write blocked in the inner connection now; a closed
	// TCP socket does that too.
	_ = inner.SetDeadline(time.Unix(1, 0))
	if c.state().cut&Out != 0 {
		c.mu.Lock()
		c.held = true
		c.mu.Unlock()
		c.t.stalled.Add(1)
		c.settle() // the cut may have healed meanwhile
		return nil
	}
	return c.closeInner()
}

// CloseWrite shuts the write side (a FIN on TCP) where the inner
// connection can; while Out is cut, the FIN is held until the cut heals.
// Write fails after it.
func (c *Conn) CloseWrite() error {
	cw, ok := c.inner.(interface{ CloseWrite() error })
	if !ok {
		return c.opError("close", errNoCloseWrite)
	}
	if err := c.opErr("close"); err != nil {
		return err
	}
	c.mu.Lock()
	c.wclosed = true
	c.mu.Unlock()
	if c.state().cut&Out != 0 {
		c.mu.Lock()
		c.finHeld = true
		c.mu.Unlock()
		c.t.stalled.Add(1)
		c.settle()
		return nil
	}
	return cw.CloseWrite()
}

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, true, true)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, true, false)
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, false, true)
}

func (c *Conn) setDeadline(t time.Time, read, write bool) error {
	c.mu.Lock()
	if read {
		c.rdl = t
	}
	if write {
		c.wdl = t
	}
	closed, inner := c.closed || c.severed, c.inner
	c.mu.Unlock()
	c.signal() // a wait on a fault re-reads its deadline
	if closed {
		return c.opError("set", net.ErrClosed)
	}
	switch {
	case read && write:
		return inner.SetDeadline(t)
	case read:
		return inner.SetReadDeadline(t)
	default:
		return inner.SetWriteDeadline(t)
	}
}
