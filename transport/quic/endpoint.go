package quic

import (
	"net"
	"sync"

	quicgo "github.com/quic-go/quic-go"
)

// endpoint is a UDP socket with the quic-go Transport running on it.
//
// We own the socket instead of letting quic.ListenAddr / quic.DialAddr create
// it because of when it closes: quic-go keeps a socket it created open for
// about three probe timeouts after its last connection closed, so that a lost
// CONNECTION_CLOSE can be repeated. That leaves its goroutines running past
// Listener.Close and Conn.Close, which makes shutdown timing depend on RTT and
// goroutine-leak checks flaky. Here the socket closes as soon as its owner is
// done with the last connection. The cost: if our one CONNECTION_CLOSE is
// lost, the peer learns of the close from its idle timeout.
type endpoint struct {
	udp  *net.UDPConn
	tr   *quicgo.Transport
	once sync.Once
}

func newEndpoint(network string, laddr *net.UDPAddr) (*endpoint, error) {
	udp, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &endpoint{udp: udp, tr: &quicgo.Transport{Conn: udp}}, nil
}

// close stops quic-go's goroutines for this socket (abruptly ending any
// connection still on it) and closes the socket; it returns once they are gone.
func (e *endpoint) close() {
	e.once.Do(func() {
		_ = e.tr.Close() // waits for quic-go's read loop to exit
		_ = e.udp.Close()
	})
}
