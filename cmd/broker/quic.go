package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/transport/quic"
	"github.com/murmurmq/murmur/transport/tcp"
)

// quicFlags turn on the QUIC client listener next to TCP.
type quicFlags struct {
	port int
	addr string
	cert string
	key  string
}

func (qf *quicFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&qf.port, "quic_port", 0, "QUIC client `port` on UDP (0 = off; 4224 is suggested, -1 = random)")
	fs.StringVar(&qf.addr, "quic_addr", "", "QUIC listen `host` (default: --addr)")
	fs.StringVar(&qf.cert, "quic_cert", "", "QUIC TLS certificate `file` (PEM; generated self-signed when it and --quic_key are missing; default: a new self-signed one each start, fingerprint logged)")
	fs.StringVar(&qf.key, "quic_key", "", "QUIC TLS private key `file` (PEM; written 0600 when generated)")
}

// apply adds a TCP and a QUIC listener to o when --quic_port is set. The
// QUIC keep-alive and idle timeout follow the broker's ping settings: a
// keep-alive well inside the ping interval keeps NAT bindings open, and a
// peer silent for a whole ping interval is gone, as a TCP client that
// missed its PINGs would be.
func (qf *quicFlags) apply(o *broker.Options) (*quic.Transport, error) {
	if qf.port == 0 {
		if qf.cert != "" || qf.key != "" || qf.addr != "" {
			return nil, fmt.Errorf("--quic_cert, --quic_key and --quic_addr need --quic_port")
		}
		return nil, nil
	}
	if qf.port < -1 || qf.port > 65535 {
		return nil, fmt.Errorf("quic_port: %d is not a valid port", qf.port)
	}
	qc := quic.DefaultConfig()
	qc.CertFile, qc.KeyFile = qf.cert, qf.key
	// Certificate files that do not exist yet are generated (self-signed)
	// and kept, so the fingerprint clients pin survives restarts.
	qc.CreateCert = true
	qc.IdleTimeout = o.PingInterval
	qc.KeepAlivePeriod = min(qc.KeepAlivePeriod, o.PingInterval/3)
	qt, err := quic.New(qc)
	if err != nil {
		return nil, fmt.Errorf("quic: %w", err)
	}
	host := qf.addr
	if host == "" {
		host = o.Host
	}
	port := max(qf.port, 0)
	tcpPort := max(o.Port, 0)
	o.Listeners = []broker.Listener{
		{Transport: tcp.New(), Addr: net.JoinHostPort(o.Host, strconv.Itoa(tcpPort)), Advertise: o.ClientAdvertise},
		{Transport: qt, Addr: net.JoinHostPort(host, strconv.Itoa(port))},
	}
	return qt, nil
}

func logQUIC(log *zap.Logger, qt *quic.Transport, qf *quicFlags) {
	if qt == nil {
		return
	}
	if qt.CertWritten() {
		log.Info("quic: generated a self-signed certificate and saved it; it is reused on restart",
			zap.String("cert_file", qf.cert), zap.String("key_file", qf.key))
	}
	if qt.SelfSigned() {
		log.Info("quic: using a self-signed certificate; pin it in clients",
			zap.String("sha256_fingerprint", qt.Fingerprint()))
	}
}
