package ws

import (
	"encoding/binary"
	"fmt"

	"github.com/gobwas/ws"
)

// Opcodes (RFC 6455 section 5.2).
const (
	opContinuation = ws.OpContinuation
	opText         = ws.OpText
	opBinary       = ws.OpBinary
	opClose        = ws.OpClose
	opPing         = ws.OpPing
	opPong         = ws.OpPong
)

// Close status codes (RFC 6455 section 7.4.1) this transport sends.
const (
	StatusNormal          = 1000
	StatusGoingAway       = 1001
	StatusProtocolError   = 1002
	StatusUnsupportedData = 1003
	StatusNoStatus        = 1005 // never sent: what a close without a body means
	StatusInvalidPayload  = 1007
	StatusMessageTooBig   = 1009
)

// maxControlPayload is the largest ping, pong or close payload (RFC 6455).
const maxControlPayload = 125

// CloseError is what Read returns after it closed the connection because
// the peer broke the protocol: the status and reason it sent the peer in
// its close frame.
type CloseError struct {
	Status int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("websocket: closed with %d: %s", e.Status, e.Reason)
}

// closeBody is a close frame's payload: the status and the reason, cut
// to fit a control frame.
func closeBody(status int, reason string) []byte {
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(status))
	return append(b, reason...)
}

// validCloseStatus reports whether a peer may send status in a close frame
// (RFC 6455 section 7.4).
func validCloseStatus(status int) bool {
	switch {
	case status < 1000, status == 1004, status == StatusNoStatus, status == 1006, status == 1015:
		return false
	case status <= 1014, status >= 3000 && status <= 4999:
		return true
	}
	return false
}

// appendHeader appends the header of a frame with the given opcode and
// payload length (gobwas/ws encodes it). rsv1 marks a compressed message;
// a client masks with mask.
func appendHeader(b []byte, op ws.OpCode, fin, rsv1 bool, length int, mask *[4]byte) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(length)}
	if rsv1 {
		h.Rsv = ws.Rsv(true, false, false)
	}
	if mask != nil {
		h.Masked, h.Mask = true, *mask
	}
	var scratch [ws.MaxHeaderSize]byte
	w := appender{b}
	_ = ws.WriteHeaderBuffer(&w, h, scratch[:]) // lengths here are never negative
	return w.b
}

// appender is an io.Writer appending to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}
