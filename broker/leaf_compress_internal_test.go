package broker

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSelectLeafCompression: nats-server's selectCompressionMode table.
func TestSelectLeafCompression(t *testing.T) {
	cases := []struct{ ours, theirs, want string }{
		{CompressionS2Fast, "", CompressionNotSupported},
		{CompressionS2Fast, CompressionNotSupported, CompressionNotSupported},
		{CompressionS2Fast, CompressionOff, CompressionOff},
		{CompressionAccept, CompressionAccept, CompressionOff},
		{CompressionS2Best, CompressionAccept, CompressionS2Best},
		{CompressionAccept, CompressionS2Best, CompressionS2Best},
		{CompressionAccept, CompressionS2Auto, CompressionS2Fast},
		{CompressionS2Auto, CompressionS2Fast, CompressionS2Auto},
		{CompressionS2Fast, CompressionS2Auto, CompressionS2Fast},
		{CompressionS2Better, CompressionS2Uncompressed, CompressionS2Better},
	}
	for _, c := range cases {
		got, err := selectLeafCompression(c.ours, c.theirs)
		if err != nil || got != c.want {
			t.Errorf("%s vs %q: %q %v, want %q", c.ours, c.theirs, got, err, c.want)
		}
	}
	if _, err := selectLeafCompression(CompressionS2Fast, "zstd"); err == nil || err.Error() != `unsupported route compression mode "zstd"` {
		t.Errorf("unknown mode: %v", err)
	}
}

// TestS2AutoLevel: nats-server's selectS2AutoModeBasedOnRTT.
func TestS2AutoLevel(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		rtt  time.Duration
		th   []time.Duration
		want string
	}{
		{time.Millisecond, DefaultS2AutoRTTThresholds, CompressionS2Uncompressed},
		{10 * ms, DefaultS2AutoRTTThresholds, CompressionS2Uncompressed},
		{11 * ms, DefaultS2AutoRTTThresholds, CompressionS2Fast},
		{60 * ms, DefaultS2AutoRTTThresholds, CompressionS2Better},
		{time.Second, DefaultS2AutoRTTThresholds, CompressionS2Best},
		{5 * ms, []time.Duration{0, 0, 20 * ms}, CompressionS2Better},
		{30 * ms, []time.Duration{0, 0, 20 * ms}, CompressionS2Best},
		{30 * ms, []time.Duration{10 * ms, 20 * ms}, CompressionS2Fast},
		{30 * ms, []time.Duration{10 * ms}, CompressionS2Uncompressed},
		{time.Hour, []time.Duration{0, time.Hour}, CompressionS2Fast},
	}
	for _, c := range cases {
		if got := s2AutoLevel(c.rtt, c.th); got != c.want {
			t.Errorf("%v %v: %s, want %s", c.rtt, c.th, got, c.want)
		}
	}
}

// TestLeafS2ConnLevelSwitch: the S2 stream survives level changes between
// writes (s2_auto), and what a level writes decodes the same; s2_best
// shrinks compressible data, s2_uncompressed does not.
func TestLeafS2ConnLevelSwitch(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	raw := &countConn{Conn: a}
	w := newS2Stream(raw, raw, CompressionS2Uncompressed)
	r := newS2Stream(b, b, CompressionS2Fast)
	payload := []byte(strings.Repeat("MSG foo.bar 1 11\r\nhello world\r\n", 2000))
	got := make(chan []byte)
	go func() {
		buf := make([]byte, 4*len(payload))
		n, _ := io.ReadFull(r, buf)
		got <- buf[:n]
	}()
	var sizes []int
	for _, lv := range []string{CompressionS2Uncompressed, CompressionS2Best, CompressionS2Fast, CompressionS2Better} {
		w.setLevel(lv)
		before := raw.n
		v := net.Buffers{payload[:100], payload[100:]}
		if _, err := w.WriteBuffers(&v); err != nil || len(v) != 0 {
			t.Fatalf("%s: %v, %d left", lv, err, len(v))
		}
		sizes = append(sizes, raw.n-before)
	}
	if data := <-got; !bytes.Equal(data, bytes.Repeat(payload, 4)) {
		t.Fatalf("decoded %d bytes, want %d", len(data), 4*len(payload))
	}
	if sizes[0] < len(payload) || sizes[1] > len(payload)/10 {
		t.Fatalf("wire sizes %v for %d bytes each", sizes, len(payload))
	}
}

type countConn struct {
	net.Conn
	n int
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n += n
	return n, err
}
