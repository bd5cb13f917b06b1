package quic

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadPreface(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		badByte bool // rejected for content, not for running out
	}{
		{Preface, true, false},
		{Preface + "CONNECT {}\r\n", true, false},
		{"", false, false},
		{"NAT", false, false},
		{"X", false, true},
		{"NATS\r\n", false, true},
		{"nats\n", false, true},
	} {
		for i, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.DataErrReader, // reads ahead itself, so only the verdict is checked
		} {
			r := strings.NewReader(tc.in)
			err := readPreface(wrap(r))
			if (err == nil) != tc.ok || errors.Is(err, errBadPreface) != tc.badByte {
				t.Errorf("readPreface(%q) = %v", tc.in, err)
			}
			if tc.ok && i < 2 && r.Len() != len(tc.in)-len(Preface) {
				t.Errorf("readPreface(%q) consumed %d bytes, want %d", tc.in, len(tc.in)-r.Len(), len(Preface))
			}
		}
	}
}

// FuzzReadPreface checks the two promises the listener relies on: success
// exactly when the input starts with Preface, and never a byte consumed past
// it, however the input is split into reads.
func FuzzReadPreface(f *testing.F) {
	f.Add([]byte(Preface), uint8(0))
	f.Add([]byte(Preface+"PUB a 1\r\nx\r\n"), uint8(1))
	f.Add([]byte("NATS"), uint8(2))
	f.Add([]byte("GET / HTTP/1.1\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		r := bytes.NewReader(in)
		err := readPreface(&chunkReader{r: r, n: int(chunk%7) + 1})
		want := bytes.HasPrefix(in, []byte(Preface))
		if (err == nil) != want {
			t.Fatalf("readPreface(%q) = %v, want ok=%v", in, err, want)
		}
		if consumed := len(in) - r.Len(); consumed > len(Preface) {
			t.Fatalf("consumed %d bytes, more than the preface", consumed)
		}
	})
}

// chunkReader returns at most n bytes per Read, like packets arriving.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}
