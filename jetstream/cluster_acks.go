package jetstream

import "math"

// Acks ($JS.ACK.<stream>.<consumer>...) and flow-control answers
// ($JS.FC.<stream>.<consumer>.<id>) concern one stream's consumers, which
// live on the stream's owner. Under a Cluster the engine's $JS.ACK.> and
// $JS.FC.> subscriptions are not made in the broker; the Cluster
// subscribes, in the account, $JS.ACK.<s>.> and $JS.FC.<s>.> for each
// stream s the engine holds and hands what they get to the engine under
// the ids it was given. An ack therefore crosses one route, to the owner,
// instead of reaching every broker's engine. The subscriptions follow the
// engine's streams (refreshLocal): made before a create is answered (so
// before the routes are awaited, and the interest is on every broker when
// the client hears of the stream), dropped after a delete.

const (
	ackPrefix    = "$JS.ACK."
	engineAckSub = math.MinInt32 + 2 // the ids the engine is given for $JS.ACK.>
	engineFCSub  = math.MinInt32 + 3 // and $JS.FC.>
)

// streamSubs are one stream's ack and flow-control subscriptions.
type streamSubs struct{ ack, fc int }

// syncStreamSubs makes the ack and flow-control subscriptions match
// c.local. Run goroutine (or Start).
func (c *Cluster) syncStreamSubs() {
	changed := false
	for name := range c.local {
		if _, ok := c.streamSubs[name]; ok {
			continue
		}
		ack, err := c.conn.Subscribe(ackPrefix + name + ".>")
		if err != nil {
			continue // closing
		}
		fc, err := c.conn.Subscribe(fcPrefix + name + ".>")
		if err != nil {
			c.conn.Unsubscribe(ack)
			continue
		}
		c.streamSubs[name] = streamSubs{ack: ack, fc: fc}
		changed = true
	}
	for name, ss := range c.streamSubs {
		if _, ok := c.local[name]; !ok {
			c.conn.Unsubscribe(ss.ack)
			c.conn.Unsubscribe(ss.fc)
			delete(c.streamSubs, name)
			changed = true
		}
	}
	if !changed {
		return
	}
	to := make(map[int]int, 2*len(c.streamSubs))
	for _, ss := range c.streamSubs {
		to[ss.ack], to[ss.fc] = engineAckSub, engineFCSub
	}
	c.toEngine.Store(&to)
}

// engineSub returns the engine's id for a message of subscription sub
// when sub is an ack or flow-control subscription. Any goroutine.
func (c *Cluster) engineSub(sub int) (int, bool) {
	to := c.toEngine.Load()
	if to == nil {
		return 0, false
	}
	id, ok := (*to)[sub]
	return id, ok
}
