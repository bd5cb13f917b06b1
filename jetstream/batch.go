package jetstream

// BatchConn is a Conn that can publish a run of messages and flush each
// connection they reached once at the end (broker.InternalClient does).
// The engine publishes what one batch of input produced through it, so
// the PubAcks of 1,000 async publishes or the 500 messages of a fetch
// reach the client in a few writes instead of one write each.
type BatchConn interface {
	Conn
	// PublishEach publishes n messages in order, msg(i) giving the i-th
	// with Publish's arguments.
	PublishEach(n int, msg func(i int) (subject, deliverTo, reply string, hdr, data []byte))
}

// publishOut publishes e.out, in one batch when the connection can.
func (e *Engine) publishOut() {
	if bc, ok := e.conn.(BatchConn); ok {
		bc.PublishEach(len(e.out), func(i int) (string, string, string, []byte, []byte) {
			o := &e.out[i]
			return o.subject, o.deliverTo, o.reply, o.hdr, o.data
		})
		return
	}
	for _, o := range e.out {
		e.conn.Publish(o.subject, o.deliverTo, o.reply, o.hdr, o.data)
	}
}
