package node

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// First sends are batched: Direct and Broadcast queue the Data and a
// sender goroutine publishes whatever has queued, several Data for the same
// subject in one NATS message (Murmur-Batch), so under load the per-message
// cost of NATS headers and client work is paid once per batch. An idle node
// sends each Data alone, right away.

// Batch bounds: entries and payload bytes per NATS message.
const (
	maxBatchEntries = 256
	maxBatchBytes   = 60 * 1024
)

// HeaderBatch lists the Data a batched message carries, "<seq>:<len>"
// comma-separated, in body order; Murmur-Data then gives the shared
// from, session, kind and floor (its seq is the first entry's).
const HeaderBatch = "Murmur-Batch"

// maxBatchDecode bounds the entries a received batch may name.
const maxBatchDecode = 4096

// outgoing is one queued first send.
type outgoing struct {
	subject string
	p       *pending
}

// sendQueue is the queue between send and sendLoop.
type sendQueue struct {
	mu    sync.Mutex
	items []outgoing
	spare []outgoing
	wake  chan struct{} // cap 1
}

func (q *sendQueue) push(o outgoing) {
	q.mu.Lock()
	q.items = append(q.items, o)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *sendQueue) take() []outgoing {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = q.spare[:0]
	q.spare = nil
	return items
}

func (q *sendQueue) giveBack(items []outgoing) {
	clear(items)
	q.mu.Lock()
	q.spare = items[:0]
	q.mu.Unlock()
}

// sendLoop publishes queued first sends until the node closes.
func (n *Node) sendLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.sendq.wake:
		case <-n.done:
			return
		}
		for {
			items := n.sendq.take()
			if len(items) == 0 {
				n.sendq.giveBack(items)
				break
			}
			n.publishBatches(items)
			n.sendq.giveBack(items)
		}
	}
}

// publishBatches sends items, grouping runs for the same subject.
func (n *Node) publishBatches(items []outgoing) {
	n.mu.Lock()
	floor := n.tr.settledFloor()
	n.mu.Unlock()
	maxPayload := int(n.nc.MaxPayload())
	for i := 0; i < len(items); {
		j, size := i+1, len(items[i].p.payload)
		for j < len(items) && j-i < maxBatchEntries && items[j].subject == items[i].subject &&
			items[j].p.kind == items[i].p.kind && size+len(items[j].p.payload) <= min(maxBatchBytes, maxPayload-4096) {
			size += len(items[j].p.payload)
			j++
		}
		run := items[i:j]
		var err error
		if len(run) == 1 {
			err = n.publishData(run[0].subject, run[0].p, floor)
		} else {
			err = n.nc.PublishMsg(n.batchMsg(run, floor))
		}
		if err != nil {
			// Still tracked: redelivered once the connection allows.
			n.log.Debug("publish failed; will redeliver", zap.Uint64("seq", run[0].p.seq), zap.Error(err))
		}
		n.settleUnacked(run)
		i = j
	}
}

// settleUnacked settles broadcasts that no peer had to ack, now that they
// are on the wire (the floor may pass them).
func (n *Node) settleUnacked(run []outgoing) {
	var done []*pending
	n.mu.Lock()
	for _, o := range run {
		if p := o.p; p.kind == KindBroadcast && len(p.waiting) == 0 && n.tr.items[p.seq] == p {
			n.tr.remove(p)
			done = append(done, p)
		}
	}
	left := n.tr.len()
	n.mu.Unlock()
	if len(done) > 0 {
		n.settled(done, left, false)
	}
}

// batchMsg builds one message carrying run (same subject and kind).
func (n *Node) batchMsg(run []outgoing, floor uint64) *nats.Msg {
	first := run[0].p
	var body []byte
	list := make([]byte, 0, 12*len(run))
	for k, o := range run {
		if k > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendUint(list, o.p.seq, 10)
		list = append(list, ':')
		list = strconv.AppendInt(list, int64(len(o.p.payload)), 10)
		body = append(body, o.p.payload...)
	}
	minSeq := first.seq
	for _, o := range run {
		minSeq = min(minSeq, o.p.seq)
	}
	return &nats.Msg{
		Subject: run[0].subject,
		Header: nats.Header{
			HeaderData:  {string(appendData(nil, n.cfg.ID, n.session, first.seq, first.kind, min(floor, minSeq)))},
			HeaderBatch: {string(list)},
		},
		Data: body,
	}
}

// decodeBatch reads a Data message into its entries: one, or the list of a
// Murmur-Batch.
func decodeBatch(h nats.Header, body []byte, dst []data) ([]data, error) {
	d, err := decodeData(h, body)
	if err != nil {
		return dst, err
	}
	list := h.Get(HeaderBatch)
	if list == "" {
		return append(dst, d), nil
	}
	off := 0
	for entry := range strings.SplitSeq(list, ",") {
		s, l, ok := strings.Cut(entry, ":")
		seq, err1 := strconv.ParseUint(s, 10, 64)
		size, err2 := strconv.Atoi(l)
		if !ok || err1 != nil || err2 != nil || seq == 0 || size < 0 || off+size > len(body) ||
			d.floor > seq || len(dst) >= maxBatchDecode {
			return dst, fmt.Errorf("%w: %s %q", errMalformed, HeaderBatch, list)
		}
		e := d
		e.seq, e.payload = seq, body[off:off+size:off+size]
		dst = append(dst, e)
		off += size
	}
	if off != len(body) {
		return dst, fmt.Errorf("%w: %s covers %d of %d body bytes", errMalformed, HeaderBatch, off, len(body))
	}
	return dst, nil
}
