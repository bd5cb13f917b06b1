package netem

import (
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxPacket is the largest packet a TUN read returns (an IPv4 packet's
// total length field).
const maxPacket = 65535

// pipe is one direction of the link: it reads IP packets from one TUN
// device and writes them to the other after what the Config asks for. The
// reader decides each packet's fate as it arrives (drop, or the time it
// leaves) and queues it; the writer sleeps until the head's time and
// writes it. Release times never decrease, so packets leave in the order
// they came (as netem's delay without reordering).
type pipe struct {
	from, to *os.File
	cfg      Config
	rng      *rand.Rand // used by the reader only

	q    chan *packet
	stop chan struct{}
	pool sync.Pool

	// The reader's clock state.
	lastAt time.Time // release time of the previous queued packet
	txFree time.Time // when the bandwidth cap's "wire" is free again

	stats pipeStats
}

type packet struct {
	buf []byte
	n   int
	at  time.Time
}

type pipeStats struct {
	packets, bytes, lost, overflow, delivered atomic.Int64
}

func newPipe(from, to *os.File, cfg Config, seed uint64) *pipe {
	p := &pipe{
		from: from, to: to, cfg: cfg,
		rng:  rand.New(rand.NewPCG(uint64(cfg.Seed), seed)),
		q:    make(chan *packet, cfg.Limit),
		stop: make(chan struct{}),
	}
	p.pool.New = func() any { return &packet{buf: make([]byte, maxPacket)} }
	return p
}

// read runs until from is closed; it then closes the queue so write ends.
func (p *pipe) read() {
	defer close(p.q)
	for {
		pk := p.pool.Get().(*packet)
		n, err := p.from.Read(pk.buf)
		if err != nil {
			return
		}
		p.stats.packets.Add(1)
		p.stats.bytes.Add(int64(n))
		if p.cfg.Loss > 0 && p.rng.Float64() < p.cfg.Loss {
			p.stats.lost.Add(1)
			p.pool.Put(pk)
			continue
		}
		pk.n, pk.at = n, p.releaseAt(n)
		select {
		case p.q <- pk:
		default: // the queue is full: tail drop, as a router's
			p.stats.overflow.Add(1)
			p.pool.Put(pk)
		}
	}
}

// releaseAt is when a packet of n bytes arriving now leaves: after the
// bandwidth cap has serialised it behind the packets before it, plus the
// delay and its jitter, but never before the packet ahead of it.
func (p *pipe) releaseAt(n int) time.Time {
	now := time.Now()
	sent := now
	if p.cfg.Rate > 0 {
		if p.txFree.After(sent) {
			sent = p.txFree
		}
		sent = sent.Add(time.Duration(float64(n) / float64(p.cfg.Rate) * float64(time.Second)))
		p.txFree = sent
	}
	d := p.cfg.Delay
	if p.cfg.Jitter > 0 {
		d += time.Duration(p.rng.Int64N(int64(2*p.cfg.Jitter)+1)) - p.cfg.Jitter
	}
	at := sent.Add(max(d, 0))
	if at.Before(p.lastAt) {
		at = p.lastAt
	}
	p.lastAt = at
	return at
}

// write delivers queued packets at their times until the queue closes or
// stop is closed.
func (p *pipe) write() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for pk := range p.q {
		if d := time.Until(pk.at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-p.stop:
				return
			}
		}
		if _, err := p.to.Write(pk.buf[:pk.n]); err == nil {
			p.stats.delivered.Add(1)
		}
		p.pool.Put(pk)
	}
}
