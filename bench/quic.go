package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/murmurmq/murmur/transport/quic"
)

// selfSignedLog is the message of the log line in which our broker states
// the SHA-256 fingerprint of its self-signed QUIC certificate, as the field
// fingerprintField. It is logged once both listeners are up.
const (
	selfSignedLog    = "quic: using a self-signed certificate"
	fingerprintField = "sha256_fingerprint"
)

// quicBroker is one of our brokers listening for QUIC as well as TCP.
type quicBroker struct {
	*Broker
	// QUICURL is the nats:// URL of the QUIC (UDP) listener.
	QUICURL string
	// Dialer reaches QUICURL, pinned to the broker's certificate.
	Dialer *quic.Dialer
}

// startQUIC launches our broker with a QUIC listener on a free UDP port and
// a dialer pinned to the fingerprint it logs. Other sides have no QUIC.
func startQUIC(ctx context.Context, env *Env) (*quicBroker, error) {
	if env.Side != sideOurs {
		return nil, ErrNotApplicable
	}
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	b, err := env.Start(ctx, "--quic_port", strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	fp, err := b.LogField(ctx, selfSignedLog, fingerprintField, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("QUIC certificate fingerprint: %w", err)
	}
	dc := quic.DefaultDialConfig()
	dc.Fingerprint = fp
	d, err := quic.NewDialer(dc)
	if err != nil {
		return nil, err
	}
	url := "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &quicBroker{Broker: b, QUICURL: url, Dialer: d}, nil
}

// quicFlow runs f with every client connected over QUIC.
func quicFlow(f flow) func(context.Context, *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		qb, err := startQUIC(ctx, env)
		if err != nil {
			return Result{}, err
		}
		r, err := f.runOn(ctx, env, qb.endpoints())
		return r, withExits(err, []*Broker{qb.Broker})
	}
}

// endpoints places every client of a flow on the QUIC listener.
func (qb *quicBroker) endpoints() endpoints {
	return endpoints{pub: qb.QUICURL, sub: qb.QUICURL, opts: []nats.Option{nats.SetCustomDialer(qb.Dialer)}}
}

// quicOverTCP runs f over TCP and then over QUIC against the same broker
// and reports the QUIC rate as a multiple of the TCP one, so both come from
// the same run on the same machine state.
func quicOverTCP(f flow) func(context.Context, *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		qb, err := startQUIC(ctx, env)
		if err != nil {
			return Result{}, err
		}
		tcp, err := f.run(ctx, env, qb.Broker)
		if err != nil {
			return Result{}, withExits(fmt.Errorf("over TCP: %w", err), []*Broker{qb.Broker})
		}
		env.Progress("TCP %s msgs/s", formatValue(tcp.Value, "msgs/s"))
		q, err := f.runOn(ctx, env, qb.endpoints())
		if err != nil {
			return Result{}, withExits(fmt.Errorf("over QUIC: %w", err), []*Broker{qb.Broker})
		}
		env.Progress("QUIC %s msgs/s", formatValue(q.Value, "msgs/s"))
		r := Result{Value: q.Value / tcp.Value}
		if tcp.Note != "" {
			r.Note = "TCP: " + tcp.Note
		}
		if q.Note != "" {
			r.Note = joinNotes(r.Note, "QUIC: "+q.Note)
		}
		return r, nil
	}
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// connectTime measures connection set-up: sequential nats.Connect calls,
// each timed from the dial through INFO, CONNECT and the first PONG, then
// closed untimed. Value is the median in µs.
type connectTime struct {
	count int  // connections at full scale
	quic  bool // over QUIC (ours only) instead of TCP
	ws    bool // over WebSocket (ws://) instead of TCP
}

func (w connectTime) run(ctx context.Context, env *Env) (Result, error) {
	url := ""
	var opts []nats.Option
	var b *Broker
	if w.quic {
		qb, err := startQUIC(ctx, env)
		if err != nil {
			return Result{}, err
		}
		b, url, opts = qb.Broker, qb.QUICURL, qb.endpoints().opts
	} else if w.ws {
		wb, err := startWS(ctx, env, false)
		if err != nil {
			return Result{}, err
		}
		b, url = wb.Broker, wb.WSURL
	} else {
		var err error
		if b, err = env.Start(ctx); err != nil {
			return Result{}, err
		}
		url = b.URL
	}
	return sequentialConnects(ctx, b, url, opts, env.scaled(w.count, 20))
}

// sequentialConnects times n nats.Connect calls to url one after another,
// each from the dial through INFO, CONNECT and the first PONG, closing each
// untimed. Value is the median in µs; b names the broker in errors.
func sequentialConnects(ctx context.Context, b *Broker, url string, opts []nats.Option, n int) (Result, error) {
	opts = append(opts, nats.Name("murmur-bench-connect"), nats.NoReconnect(), nats.Timeout(10*time.Second))
	lat := make([]time.Duration, n)
	for i := range lat {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		t0 := time.Now()
		nc, err := nats.Connect(url, opts...)
		d := time.Since(t0)
		if err != nil {
			return Result{}, withExits(fmt.Errorf("connect %d of %d: %w", i+1, len(lat), err), []*Broker{b})
		}
		nc.Close()
		lat[i] = d
	}
	slices.Sort(lat)
	p50 := percentile(lat, 0.50)
	return Result{Value: float64(p50) / float64(time.Microsecond), P50: p50, P99: percentile(lat, 0.99)}, nil
}
