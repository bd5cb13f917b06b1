package broker

import (
	"crypto/tls"
	"net"

	"golang.org/x/sys/unix"
)

// peerAcked returns how many bytes the peer's TCP stack has acknowledged on
// conn (TCP_INFO tcpi_bytes_acked), and false where that cannot be known
// (not TCP). It grows as the peer reads: a peer that stopped reading has a
// full receive window and acknowledges nothing more. Unlike a completed
// write, which the kernel reports only once a good part of a large send
// buffer has drained, it shows a slow reader's progress at once.
func peerAcked(conn net.Conn) (uint64, bool) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return 0, false
	}
	var acked uint64
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var info *unix.TCPInfo
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if serr == nil {
			acked = info.Bytes_acked
		}
	}); err != nil || serr != nil {
		return 0, false
	}
	return acked, true
}
