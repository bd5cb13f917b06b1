package main

import (
	"bytes"
	"fmt"
	"net"
	"sync"
)

// sink is the ceiling for pub-only: a TCP server that greets with a NATS INFO
// line, answers each PING with PONG (the handshake's and the publisher's
// final Flush) and discards everything else unparsed. No broker that parses
// the stream can accept bytes faster on the same machine.
type sink struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

var ping = []byte("PING\r\n")

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink listen: %w", err)
	}
	s := &sink{addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *sink) accept() {
	defer s.wg.Done()
	port := s.ln.Addr().(*net.TCPAddr).Port
	info := fmt.Sprintf("INFO {\"server_id\":\"SINK\",\"server_name\":\"sink\",\"version\":\"0.0.0\",\"proto\":1,"+
		"\"host\":\"127.0.0.1\",\"port\":%d,\"headers\":true,\"max_payload\":67108864}\r\n", port)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // listener closed
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			if _, err := c.Write([]byte(info)); err != nil {
				return
			}
			discard(c)
		}()
	}
}

// discard reads c until it fails, writing a PONG for every "PING\r\n",
// including one split across two reads.
func discard(c net.Conn) {
	buf := make([]byte, 256<<10)
	var carry [2 * len("PING\r\n")]byte
	tail := 0 // bytes of the previous read kept in carry, < len(ping)
	pong := []byte("PONG\r\n")
	for {
		n, err := c.Read(buf)
		if n > 0 {
			data := buf[:n]
			pings := bytes.Count(data, ping)
			// Matches in window (the last bytes seen before plus the head of
			// this read) straddle the boundary: neither part alone can hold
			// one, so none is counted twice.
			k := copy(carry[tail:], data[:min(n, len(ping)-1)])
			window := carry[:tail+k]
			pings += bytes.Count(window, ping)
			for range pings {
				if _, werr := c.Write(pong); werr != nil {
					return
				}
			}
			if n >= len(ping)-1 {
				tail = copy(carry[:], data[n-(len(ping)-1):])
			} else {
				tail = copy(carry[:], window[max(0, len(window)-(len(ping)-1)):])
			}
		}
		if err != nil {
			return
		}
	}
}

// close stops accepting, drops every connection and waits for the handlers.
func (s *sink) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
