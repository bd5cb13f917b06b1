package quic

import (
	"errors"
	"fmt"
	"io"
)

// errBadPreface means the peer's first bytes were not Preface.
var errBadPreface = errors.New("quic: bad preface")

// readPreface consumes exactly len(Preface) bytes from r when they match and
// returns nil. It checks each chunk as it arrives, so a peer sending the wrong
// first byte is rejected at once rather than after PrefaceTimeout, and it
// never reads past the preface: the NATS bytes that follow belong to the broker.
func readPreface(r io.Reader) error {
	var buf [len(Preface)]byte // a fixed array keeps this allocation-free
	want := Preface
	got := 0
	for got < len(want) {
		n, err := r.Read(buf[got:len(want)])
		if n > 0 {
			if string(buf[got:got+n]) != want[got:got+n] {
				return fmt.Errorf("%w: got %q", errBadPreface, buf[:got+n])
			}
			got += n
		}
		if got == len(want) {
			return nil // a final io.EOF with the last byte is fine: the stream ends later
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("quic: reading preface (%d of %d bytes): %w", got, len(want), err)
		}
	}
	return nil
}
