package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOneStreamAcrossFrames(t *testing.T) {
	_, ln := listen(t, Config{})
	c := dialRaw(t, ln.Addr().String(), "")
	s := acceptOne(t, ln)
	// An op split across three frames, then three ops packed in one, and a
	// message fragmented with continuation frames.
	c.send(bin("PUB fo"), bin("o 5\r\nhel"), bin("lo\r\n"), bin("PING\r\nPING\r\nPONG\r\n"),
		frame(0x02, []byte("SUB a "), false), frame(0x00, []byte("1\r"), false), frame(0x80, []byte("\n"), false))
	want := "PUB foo 5\r\nhello\r\nPING\r\nPING\r\nPONG\r\nSUB a 1\r\n"
	if got := string(readN(t, s, len(want))); got != want {
		t.Fatalf("stream %q, want %q", got, want)
	}
	// Writes arrive as binary frames.
	if _, err := s.Write([]byte("INFO {}\r\n")); err != nil {
		t.Fatal(err)
	}
	v := net.Buffers{[]byte("MSG a 1 2\r\n"), []byte("hi"), []byte("\r\n")}
	if _, err := s.WriteBuffers(&v); err != nil || len(v) != 0 {
		t.Fatalf("WriteBuffers: %v, %d left", err, len(v))
	}
	for _, want := range []string{"INFO {}\r\n", "MSG a 1 2\r\nhi\r\n"} {
		b0, p := c.readFrame()
		if b0 != 0x82 || string(p) != want {
			t.Fatalf("frame %#x %q, want binary %q", b0, p, want)
		}
	}
}

func TestPingCloseAndEmptyFrames(t *testing.T) {
	_, ln := listen(t, Config{})
	c := dialRaw(t, ln.Addr().String(), "")
	s := acceptOne(t, ln)
	c.send(frame(0x89, []byte("are you there"), false), bin(""), bin("x"))
	if got := string(readN(t, s, 1)); got != "x" {
		t.Fatalf("got %q", got)
	}
	b0, p := c.readFrame()
	if b0 != 0x8a || string(p) != "are you there" {
		t.Fatalf("pong %#x %q", b0, p)
	}
	c.send(frame(0x88, closeBody(StatusGoingAway, "bye"), false))
	if _, err := s.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("read after close: %v, want EOF", err)
	}
	c.expectClose(StatusGoingAway, "bye")
}

// Every refusal: a close frame with the status and reason, Read fails with
// a *CloseError, and another connection on the listener is undisturbed.
func TestBadFramesRefused(t *testing.T) {
	_, ln := listen(t, Config{MaxMessage: 1024})
	for _, tc := range []struct {
		name   string
		frames [][]byte
		status int
		reason string
	}{
		{"text frame", [][]byte{frame(0x81, []byte("PING\r\n"), false)}, StatusUnsupportedData, "text frames"},
		{"unmasked", [][]byte{frame(0x82, []byte("PING\r\n"), true)}, StatusProtocolError, "mask bit missing"},
		{"fragmented ping", [][]byte{frame(0x09, []byte("x"), false)}, StatusProtocolError, "final bit"},
		{"long ping", [][]byte{frame(0x89, make([]byte, 126), false)}, StatusProtocolError, "control frame length"},
		{"over max message", [][]byte{frame(0x82, make([]byte, 1025), false)}, StatusMessageTooBig, "exceeds the limit of 1024"},
		{"rsv1 without deflate", [][]byte{frame(0xc2, []byte("x"), false)}, StatusProtocolError, "permessage-deflate"},
		{"rsv2", [][]byte{frame(0xa2, []byte("x"), false)}, StatusProtocolError, "RSV2"},
		{"stray continuation", [][]byte{frame(0x80, []byte("x"), false)}, StatusProtocolError, "continuation"},
		{"new message mid-message", [][]byte{frame(0x02, []byte("x"), false), bin("y")}, StatusProtocolError, "new message started"},
		{"unknown opcode", [][]byte{frame(0x83, []byte("x"), false)}, StatusProtocolError, "unknown opcode"},
		{"bad close status", [][]byte{frame(0x88, closeBody(999, ""), false)}, StatusProtocolError, "invalid close status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bystander := dialRaw(t, ln.Addr().String(), "")
			bs := acceptOne(t, ln)
			c := dialRaw(t, ln.Addr().String(), "")
			s := acceptOne(t, ln)
			c.send(tc.frames...)
			_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
			var err error
			for err == nil {
				_, err = s.Read(make([]byte, 64))
			}
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Status != tc.status {
				t.Fatalf("read error %v, want close status %d", err, tc.status)
			}
			c.expectClose(tc.status, tc.reason)
			bystander.send(bin("PING\r\n"))
			if got := string(readN(t, bs, 6)); got != "PING\r\n" {
				t.Fatalf("bystander got %q", got)
			}
		})
	}
}

func TestHandshakeRefusals(t *testing.T) {
	_, ln := listen(t, Config{AllowedOrigins: []string{"http://good.example:8080"}})
	addr := ln.Addr().String()
	key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
		reason    string
	}{
		{"plain HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "'Upgrade'"},
		{"no connection header", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" + key + "\r\n", 400, "'Connection'"},
		{"POST", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, "must be GET"},
		{"no key", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "key missing"},
		{"bad version", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 400, "invalid version"},
		{"other origin", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Origin: http://evil.example\r\n\r\n", 403, "not in the allowed list"},
		{"not HTTP", "CONNECT {}\r\nPING\r\n\r\n", 400, "malformed"},
		{"data before upgrade", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "\r\n\x82\x80abcd", 400, "before handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawTCP(t, addr)
			c.nc.Write([]byte(tc.req))
			resp := c.response()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.reason)
			}
		})
	}
	// The allowed origin, and no origin at all, pass.
	dialRaw(t, addr, "Origin: http://good.example:8080\r\n")
	acceptOne(t, ln)
	dialRaw(t, addr, "")
	acceptOne(t, ln)
}

func TestSameOrigin(t *testing.T) {
	_, ln := listen(t, Config{SameOrigin: true})
	addr := ln.Addr().String()
	dialRaw(t, addr, "Origin: http://"+addr+"\r\n")
	acceptOne(t, ln)
	c := rawTCP(t, addr)
	c.nc.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://other:1\r\n\r\n"))
	if resp := c.response(); resp.StatusCode != 403 {
		t.Fatalf("cross origin: %s", resp.Status)
	}
}

// TestUpgradeHeaders: Config.Headers (nats-server's websocket headers)
// go out with the 101; ones the handshake owns, or not valid HTTP, are
// refused by New.
func TestUpgradeHeaders(t *testing.T) {
	_, ln := listen(t, Config{Headers: map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store"}})
	addr := ln.Addr().String()
	c := rawTCP(t, addr)
	c.nc.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	resp := c.response()
	if resp.StatusCode != 101 || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("upgrade response %s %v", resp.Status, resp.Header)
	}
	acceptOne(t, ln)
	for _, bad := range []map[string]string{{"Upgrade": "x"}, {"Bad Name": "x"}, {"X-Ok": "a\r\nb"}} {
		if _, err := New(Config{Headers: bad}); err == nil {
			t.Errorf("headers %q accepted", bad)
		}
	}
}

func TestHandshakeTimeout(t *testing.T) {
	_, ln := listen(t, Config{HandshakeTimeout: 100 * time.Millisecond})
	c := rawTCP(t, ln.Addr().String())
	c.nc.Write([]byte("GET / HTTP/1.1\r\n")) // and nothing more
	if _, err := c.br.ReadByte(); err == nil {
		t.Fatal("a silent peer got an answer")
	}
}

func TestDialCompressed(t *testing.T) {
	tr, ln := listen(t, Config{Compression: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, err := tr.Dial(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	s := acceptOne(t, ln)
	if !s.Compressed() || !cc.(*Conn).Compressed() {
		t.Fatal("permessage-deflate not negotiated")
	}
	big := bytes.Repeat([]byte("MSG subject.a 1 10\r\n0123456789\r\n"), 1000)
	for _, dir := range []struct{ from, to net.Conn }{{cc, s}, {s, cc}} {
		go dir.from.Write(big)
		if got := readN(t, dir.to, len(big)); !bytes.Equal(got, big) {
			t.Fatal("compressed round trip differs")
		}
	}
}

// A compressed message that inflates past the limit is refused.
func TestInflateBomb(t *testing.T) {
	_, ln := listen(t, Config{Compression: true, MaxMessage: 4096})
	c := dialRaw(t, ln.Addr().String(), "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	s := acceptOne(t, ln)
	var d deflater
	z, _ := d.deflate([][]byte{make([]byte, 1<<20)})
	c.send(frame(0xc2, z, false))
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, err = s.Read(make([]byte, 64<<10))
	}
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Status != StatusMessageTooBig {
		t.Fatalf("got %v, want 1009", err)
	}
}

// A write cut short by its deadline resumes: the peer sees one intact
// stream.
func TestResumableWrite(t *testing.T) {
	_, ln := listen(t, Config{})
	c := dialRaw(t, ln.Addr().String(), "")
	s := acceptOne(t, ln)
	if !s.ResumableWrites() {
		t.Fatal("plain TCP server end should resume")
	}
	_ = s.tcp.SetWriteBuffer(4096)
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KB
	var sent []byte
	cut := false
	for i := 0; i < 64 && !cut; i++ {
		_ = s.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		v := net.Buffers{chunk}
		n, err := s.WriteBuffers(&v)
		sent = append(sent, chunk[:n]...)
		if err != nil {
			cut = true
			// Hand the rest back, as the broker does, from another goroutine
			// while the peer reads.
			rest := append([]byte(nil), chunk[n:]...)
			sent = append(sent, rest...)
			done := make(chan error, 1)
			go func() {
				_ = s.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, err := s.Write(rest)
				done <- err
				s.Write([]byte("END"))
			}()
			var got []byte
			for !bytes.HasSuffix(got, []byte("END")) {
				_, p := c.readFrame()
				got = append(got, p...)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append(sent, "END"...)) {
				t.Fatalf("stream of %d bytes differs from the %d sent", len(got), len(sent)+3)
			}
		}
	}
	if !cut {
		t.Skip("the socket never pushed back")
	}
}
