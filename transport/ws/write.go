package ws

import (
	"crypto/rand"
	"net"

	"github.com/gobwas/ws"
)

// writer is the frame writer's state; guarded by Conn.wmu.
type writer struct {
	hdr [ws.MaxHeaderSize]byte
	iov net.Buffers
	// A data frame cut short by the write deadline (server end, plain TCP,
	// uncompressed): the unsent rest of its header and how many payload
	// bytes it still owes. The caller's next write starts with them.
	hdrRem []byte
	payRem int64
	// ctl are control frames (pongs) that arrived while a frame was half
	// written; they go out once it is complete.
	ctl  [][]byte
	copy []byte // one buffer for TLS or masked (client) writes
	def  deflater
}

func (w *writer) midFrame() bool { return w.payRem > 0 || len(w.hdrRem) > 0 }

// Write implements net.Conn: p goes out as one binary frame.
func (c *Conn) Write(p []byte) (int, error) {
	v := net.Buffers{p}
	n, err := c.WriteBuffers(&v)
	return int(n), err
}

// WriteBuffers writes the buffers as one binary frame (compressed as one
// message when permessage-deflate was negotiated and they are not tiny),
// with one writev on plain TCP. It consumes what it wrote from v and returns
// the count of payload bytes written. After a timeout that cut a frame
// short on a resumable connection (see ResumableWrites), the next call must
// start with the unwritten rest of v: that call finishes the frame first.
func (c *Conn) WriteBuffers(v *net.Buffers) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w := &c.w
	var done int64
	if w.midFrame() {
		n, err := c.resumeLocked(v)
		done += n
		if err != nil || w.midFrame() {
			return done, err
		}
	}
	if len(w.ctl) > 0 {
		for _, f := range w.ctl {
			if err := c.writeAllLocked(net.Buffers{f}); err != nil {
				return done, err
			}
		}
		w.ctl = w.ctl[:0]
	}
	total := buffersLen(*v)
	if total == 0 {
		return done, nil
	}
	if c.compress && total > compressThreshold {
		z, err := w.def.deflate(*v)
		if err != nil {
			return done, err
		}
		hdr := appendHeader(w.hdr[:0], opBinary, true, true, len(z), c.maskKey())
		if err := c.writeAllLocked(c.maskedIOV(hdr, [][]byte{z})); err != nil {
			return done, err
		}
		consume(v, total)
		return done + total, nil
	}
	hdr := appendHeader(w.hdr[:0], opBinary, true, false, int(total), c.maskKey())
	iov := c.maskedIOV(hdr, *v)
	n, err := c.writeRawLocked(iov)
	clear(iov[:cap(iov)])
	w.iov = iov[:0]
	pay := max(n-int64(len(hdr)), 0)
	if err != nil && c.ResumableWrites() && n < int64(len(hdr))+total {
		w.hdrRem = hdr[min(n, int64(len(hdr))):]
		w.payRem = total - pay
	}
	consume(v, pay)
	return done + pay, err
}

// resumeLocked finishes a frame cut short: the rest of its header and the
// payload bytes it owes, taken from the front of v.
func (c *Conn) resumeLocked(v *net.Buffers) (int64, error) {
	w := &c.w
	iov := append(w.iov[:0], w.hdrRem)
	owed := w.payRem
	for _, b := range *v {
		if owed == 0 {
			break
		}
		k := min(int64(len(b)), owed)
		iov = append(iov, b[:k])
		owed -= k
	}
	hl := int64(len(w.hdrRem))
	n, err := c.writeRawLocked(iov)
	clear(iov[:cap(iov)])
	w.iov = iov[:0]
	hw := min(n, hl)
	w.hdrRem = w.hdrRem[hw:]
	pay := n - hw
	w.payRem -= pay
	consume(v, pay)
	return pay, err
}

// maskKey is nil on the server end; a client masks every frame with a new
// random key.
func (c *Conn) maskKey() *[4]byte {
	if c.server {
		return nil
	}
	var k [4]byte
	_, _ = rand.Read(k[:])
	return &k
}

// maskedIOV is hdr followed by bufs, masked (on a copy) on the client end
// with the key at the end of hdr.
func (c *Conn) maskedIOV(hdr []byte, bufs [][]byte) net.Buffers {
	w := &c.w
	if c.server {
		iov := append(w.iov[:0], hdr)
		return append(iov, bufs...)
	}
	var key [4]byte
	copy(key[:], hdr[len(hdr)-4:])
	m := w.copy[:0]
	for _, b := range bufs {
		m = append(m, b...)
	}
	ws.Cipher(m, key, 0)
	w.copy = m
	return append(w.iov[:0], hdr, m)
}

// writeRawLocked writes iov to the socket: one writev on plain TCP, one
// copy and one Write under TLS (so a frame is one TLS record, not one per
// buffer). It returns the bytes written.
func (c *Conn) writeRawLocked(iov net.Buffers) (int64, error) {
	if c.tcp != nil {
		keep := iov // WriteTo consumes its receiver
		return keep.WriteTo(c.tcp)
	}
	if len(iov) == 1 {
		n, err := c.out().Write(iov[0])
		return int64(n), err
	}
	b := c.w.copy[:0]
	if !c.server {
		b = nil // copy holds the masked payload in iov
	}
	for _, p := range iov {
		b = append(b, p...)
	}
	if c.server {
		c.w.copy = b
	}
	n, err := c.out().Write(b)
	return int64(n), err
}

func (c *Conn) writeAllLocked(iov net.Buffers) error {
	want := buffersLen(iov)
	n, err := c.writeRawLocked(iov)
	if err == nil && n < want {
		err = net.ErrClosed
	}
	return err
}

// writeControl sends a control frame now, or, when a data frame is half
// written, queues a pong to follow it (a close then is dropped: the
// connection is going down). After a close frame nothing more is sent.
func (c *Conn) writeControl(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w.midFrame() {
		if op == opPong {
			f := appendHeader(nil, op, true, false, len(payload), nil)
			c.w.ctl = append(c.w.ctl, append(f, payload...))
		}
		return nil
	}
	return c.writeControlLocked(op, payload)
}

func (c *Conn) writeControlLocked(op ws.OpCode, payload []byte) error {
	if c.closeSent.Load() {
		return nil
	}
	if op == opClose {
		c.closeSent.Store(true)
	}
	var buf [ws.MaxHeaderSize + maxControlPayload]byte
	f := appendHeader(buf[:0], op, true, false, len(payload), c.maskKey())
	hl := len(f)
	f = append(f, payload...)
	if !c.server {
		var key [4]byte
		copy(key[:], f[hl-4:hl])
		ws.Cipher(f[hl:], key, 0)
	}
	return c.writeAllLocked(net.Buffers{f})
}

func buffersLen(v net.Buffers) int64 {
	var n int64
	for _, b := range v {
		n += int64(len(b))
	}
	return n
}

// consume drops n bytes from the front of v.
func consume(v *net.Buffers, n int64) {
	for len(*v) > 0 && n > 0 {
		b := (*v)[0]
		if int64(len(b)) > n {
			(*v)[0] = b[n:]
			return
		}
		n -= int64(len(b))
		*v = (*v)[1:]
	}
	for len(*v) > 0 && len((*v)[0]) == 0 {
		*v = (*v)[1:]
	}
}
