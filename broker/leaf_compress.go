package broker

// Leaf node compression, as nats-server's (leafnode.go
// negotiateLeafCompression, server.go selectCompressionMode): S2 stream
// compression (github.com/klauspost/compress/s2) negotiated in the INFO
// exchange. docs/leafnodes.md "Compression" has the byte-level sequence.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/murmurmq/murmur/transport/ws"
)

// Leaf compression modes, nats-server's names. A side configures one of
// off, accept, s2_fast, s2_better, s2_best or s2_auto; a connection runs
// at off, not supported, or an S2 level (s2_auto picks one of
// s2_uncompressed, s2_fast, s2_better, s2_best by round-trip time).
const (
	CompressionNotSupported   = "not supported"
	CompressionOff            = "off"
	CompressionAccept         = "accept"
	CompressionS2Auto         = "s2_auto"
	CompressionS2Uncompressed = "s2_uncompressed"
	CompressionS2Fast         = "s2_fast"
	CompressionS2Better       = "s2_better"
	CompressionS2Best         = "s2_best"
)

// DefaultS2AutoRTTThresholds are s2_auto's thresholds (nats-server's
// defaultCompressionS2AutoRTTThresholds): up to 10ms s2_uncompressed, up
// to 50ms s2_fast, up to 100ms s2_better, beyond s2_best.
var DefaultS2AutoRTTThresholds = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}

// LeafCompression is a leaf listener's or a remote's compression. The
// zero value is nats-server's default for leaf nodes: s2_auto with
// DefaultS2AutoRTTThresholds. Build one with ParseLeafCompression.
type LeafCompression struct {
	// Mode is one of the Compression* constants ("": s2_auto).
	Mode string
	// RTTThresholds are s2_auto's (nil: DefaultS2AutoRTTThresholds): a
	// round trip up to the first picks s2_uncompressed, up to the second
	// s2_fast, the third s2_better, beyond the last s2_best; a 0 skips
	// that level.
	RTTThresholds []time.Duration
}

// ParseLeafCompression normalizes a configured mode (any case; on, true
// and enabled mean s2_auto; off, false and disabled off; fast, better,
// best and auto their s2_ forms) and checks s2_auto's thresholds, with
// nats-server's error texts (validateAndNormalizeCompressionOption).
func ParseLeafCompression(mode string, rtts []time.Duration) (LeafCompression, error) {
	m := strings.ToLower(mode)
	switch m {
	case "on", "enabled", "true":
		m = CompressionS2Auto
	}
	switch m {
	case "not supported", "not_supported":
		return LeafCompression{Mode: CompressionNotSupported}, nil
	case "disabled", "off", "false":
		return LeafCompression{Mode: CompressionOff}, nil
	case "accept":
		return LeafCompression{Mode: CompressionAccept}, nil
	case "fast", "s2_fast":
		return LeafCompression{Mode: CompressionS2Fast}, nil
	case "better", "s2_better":
		return LeafCompression{Mode: CompressionS2Better}, nil
	case "best", "s2_best":
		return LeafCompression{Mode: CompressionS2Best}, nil
	case "auto", "s2_auto":
	default:
		return LeafCompression{}, fmt.Errorf("unsupported compression mode %q", mode)
	}
	if len(rtts) == 0 {
		return LeafCompression{Mode: CompressionS2Auto}, nil
	}
	var out []time.Duration
	for _, n := range rtts {
		n = max(n, 0)
		if n != 0 {
			for _, v := range out {
				if n < v {
					return LeafCompression{}, fmt.Errorf("RTT threshold values %v should be in ascending order", rtts)
				}
			}
		}
		out = append(out, n)
	}
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	switch {
	case len(out) > 4:
		return LeafCompression{}, fmt.Errorf("compression mode %q should have no more than 4 RTT thresholds: %v", mode, rtts)
	case len(out) == 0:
		return LeafCompression{}, fmt.Errorf("compression mode %q requires at least one RTT threshold", mode)
	}
	return LeafCompression{Mode: CompressionS2Auto, RTTThresholds: out}, nil
}

// validate reports whether c is normalized (the zero value included).
func (c LeafCompression) validate() error {
	if c.Mode == "" {
		return nil
	}
	n, err := ParseLeafCompression(c.Mode, c.RTTThresholds)
	if err != nil {
		return err
	}
	if n.Mode != c.Mode {
		return fmt.Errorf("compression mode %q: use ParseLeafCompression (%q)", c.Mode, n.Mode)
	}
	return nil
}

// effective is c with the defaults filled in.
func (c LeafCompression) effective() LeafCompression {
	if c.Mode == "" {
		c.Mode = CompressionS2Auto
	}
	if c.Mode == CompressionS2Auto && len(c.RTTThresholds) == 0 {
		c.RTTThresholds = DefaultS2AutoRTTThresholds
	}
	return c
}

// compresses reports whether a side in mode m negotiates compression
// (nats-server's needsCompression).
func compresses(m string) bool {
	return m != "" && m != CompressionOff && m != CompressionNotSupported
}

// selectLeafCompression is the mode this side (ours, which compresses)
// runs at given the peer's INFO compress_mode (theirs), as nats-server's
// selectCompressionMode: a peer that does not say is an old server (not
// supported); off wins; accept on both sides is off; accept takes the
// other side's level (s2_fast for s2_auto). Each side then compresses
// what it sends at its own level: the result may differ per direction.
func selectLeafCompression(ours, theirs string) (string, error) {
	switch theirs {
	case "", CompressionNotSupported:
		return CompressionNotSupported, nil
	case CompressionOff:
		return CompressionOff, nil
	case CompressionAccept:
		if ours == CompressionAccept {
			return CompressionOff, nil
		}
		return ours, nil
	case CompressionS2Auto, CompressionS2Uncompressed, CompressionS2Fast, CompressionS2Better, CompressionS2Best:
		if ours == CompressionAccept {
			if theirs == CompressionS2Auto {
				return CompressionS2Fast, nil
			}
			return theirs, nil
		}
		return ours, nil
	}
	return "", fmt.Errorf("unsupported route compression mode %q", theirs)
}

// s2AutoLevel is the S2 level s2_auto runs at for round trip rtt
// (nats-server's selectS2AutoModeBasedOnRTT).
func s2AutoLevel(rtt time.Duration, thresholds []time.Duration) string {
	idx := -1
	for i, d := range thresholds {
		if rtt <= d {
			idx = i
			break
		}
	}
	if idx < 0 {
		// Beyond the last: s2_best when every level is there, else the
		// last one listed.
		idx = len(thresholds) - 1
		if idx >= 2 {
			idx = 3
		}
	}
	switch idx {
	case 0:
		return CompressionS2Uncompressed
	case 1:
		return CompressionS2Fast
	case 2:
		return CompressionS2Better
	}
	return CompressionS2Best
}

// level resolves the negotiated mode cm to the level this side writes
// at: s2_auto's by rtt, any other as is.
func (c LeafCompression) level(cm string, rtt time.Duration) string {
	if cm == CompressionS2Auto {
		return s2AutoLevel(rtt, c.RTTThresholds)
	}
	return cm
}

// infoMode is what this side's INFO says once it compresses at cm: its
// configured s2_auto as such (the level may change), else cm
// (nats-server's compressionModeForInfoProtocol).
func (c LeafCompression) infoMode(cm string) string {
	if c.Mode == CompressionS2Auto {
		return CompressionS2Auto
	}
	return cm
}

// s2Options are the writer options of S2 level cm, as nats-server's
// s2WriterOptions: synchronous (no goroutines of the writer's own).
func s2Options(cm string) []s2.WriterOption {
	opts := []s2.WriterOption{s2.WriterConcurrency(1)}
	switch cm {
	case CompressionS2Uncompressed:
		opts = append(opts, s2.WriterUncompressed())
	case CompressionS2Better:
		opts = append(opts, s2.WriterBetterCompression())
	case CompressionS2Best:
		opts = append(opts, s2.WriterBestCompression())
	}
	return opts
}

// s2Stream is S2 stream compression both ways over a byte stream. Reads
// go through one s2.Reader for the connection's life (it may hold
// decompressed bytes not yet read). Each Write or WriteBuffers is
// flushed whole, so the peer can decode it without waiting for more.
// Writes come from one goroutine at a time (the handshake, then the
// connection's writer); setLevel may be called from any.
type s2Stream struct {
	r  *s2.Reader
	to io.Writer

	wmu   sync.Mutex
	w     *s2.Writer
	level string
	next  atomic.Pointer[string] // a level to switch to at the next write
}

func newS2Stream(r io.Reader, w io.Writer, level string) *s2Stream {
	return &s2Stream{r: s2.NewReader(r), to: w, w: s2.NewWriter(w, s2Options(level)...), level: level}
}

func (c *s2Stream) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *s2Stream) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.switchLevel()
	n, err := c.w.Write(b)
	if err == nil {
		err = c.w.Flush()
	}
	return n, err
}

// WriteBuffers compresses v as one batch (transport.BuffersWriter).
func (c *s2Stream) WriteBuffers(v *net.Buffers) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.switchLevel()
	var n int64
	for len(*v) > 0 {
		m, err := c.w.Write((*v)[0])
		n += int64(m)
		if err != nil {
			return n, err
		}
		*v = (*v)[1:]
	}
	return n, c.w.Flush()
}

// setLevel makes the next write use S2 level cm (s2_auto's changes).
func (c *s2Stream) setLevel(cm string) { c.next.Store(&cm) }

// switchLevel starts a new S2 writer at a new level. The old one was
// flushed at the end of the last write; the new one begins with a
// stream identifier, which a reader takes anywhere in the stream (as
// nats-server, whose writer starts afresh at every flush). Caller holds
// wmu.
func (c *s2Stream) switchLevel() {
	p := c.next.Swap(nil)
	if p == nil || *p == c.level {
		return
	}
	c.level = *p
	c.w = s2.NewWriter(c.to, s2Options(c.level)...)
}

// leafS2Conn is a leaf connection compressed with S2 directly over its
// socket (TCP, TLS, QUIC).
type leafS2Conn struct {
	net.Conn
	*s2Stream
}

func (c *leafS2Conn) Read(b []byte) (int, error)  { return c.s2Stream.Read(b) }
func (c *leafS2Conn) Write(b []byte) (int, error) { return c.s2Stream.Write(b) }

// compressLeaf switches nc to S2 at level and returns the connection to
// go on with. Over WebSocket the S2 stream goes under the frames, as
// nats-server puts it (its reader decompresses the socket, then parses
// frames): nc stays the connection.
func compressLeaf(nc net.Conn, level string) (net.Conn, *s2Stream) {
	var st *s2Stream
	if wc, ok := nc.(*ws.Conn); ok {
		wc.Layer(func(r io.Reader, w io.Writer) (io.Reader, io.Writer) {
			st = newS2Stream(r, w, level)
			return st, st
		})
		return wc, st
	}
	st = newS2Stream(nc, nc, level)
	return &leafS2Conn{Conn: nc, s2Stream: st}, st
}

// leafComp is a connection's compression state.
type leafComp struct {
	cfg  LeafCompression // this side's, effective (s2_auto: its thresholds)
	mode atomic.Pointer[string]
	s2   *s2Stream // nil: not compressed
	// wsDeflate: the connection is a WebSocket with permessage-deflate,
	// on which S2 is not layered (nats-server's ws.compress checks).
	wsDeflate bool
}

// newLeafComp is the compression state of a connection over nc, with
// this side's configuration cfg.
func newLeafComp(cfg LeafCompression, nc net.Conn) *leafComp {
	wc, ok := nc.(*ws.Conn)
	return &leafComp{cfg: cfg.effective(), wsDeflate: ok && wc.Compressed()}
}

// Mode is what /leafz shows: the level this side writes at, off, or not
// supported.
func (c *leafComp) Mode() string {
	if c == nil {
		return CompressionNotSupported
	}
	if p := c.mode.Load(); p != nil {
		return *p
	}
	return CompressionNotSupported
}

func (c *leafComp) set(m string) { c.mode.Store(&m) }

// autoCompress follows s2_auto's level to the latest round trip, on
// every PONG (nats-server's updateS2AutoCompressionLevel).
func (l *leaf) autoCompress() {
	c := l.comp
	if c == nil || c.s2 == nil || c.cfg.Mode != CompressionS2Auto {
		return
	}
	rtt := time.Duration(l.rtt.Load())
	if rtt <= 0 {
		return
	}
	if lv := s2AutoLevel(rtt, c.cfg.RTTThresholds); lv != c.Mode() {
		c.set(lv)
		c.s2.setLevel(lv)
	}
}

// errLeafUnexpectedInfo: the leaf sent INFO (its compression choice) to
// a hub that does not compress; nats-server's parser answers it as it
// answers anything but CONNECT first.
var errLeafUnexpectedInfo = errors.New("INFO before CONNECT from a leaf, with compression off here")

// hubCompression runs the hub's side of the negotiation. line is the
// first line the leaf sent after our INFO: its CONNECT when it does not
// compress, or its INFO with its compress_mode when it does. Then, if
// both compress, the connection switches to S2 both ways and our INFO
// (info, with our compress_mode) goes out compressed; the leaf's CONNECT
// follows, compressed. It returns the connection to go on with and the
// CONNECT line. The connection's mode is set later from CONNECT when
// nothing was negotiated here (connectCompression).
func (s *Server) hubCompression(nc net.Conn, line []byte, info leafInfo, start time.Time, comp *leafComp) (net.Conn, []byte, error) {
	var peer leafInfo
	if err := decodeJSONLine(line, "INFO", &peer); err != nil {
		return nc, line, nil // CONNECT, or what readJSONLine refuses
	}
	if comp.wsDeflate {
		comp.set(CompressionOff)
		line, err := readLine(nc)
		return nc, line, err
	}
	if !compresses(comp.cfg.Mode) {
		return nc, nil, errLeafUnexpectedInfo
	}
	cm, err := selectLeafCompression(comp.cfg.Mode, peer.Compression)
	if err != nil {
		return nc, nil, err
	}
	cm = comp.cfg.level(cm, time.Since(start))
	comp.set(cm)
	if !compresses(cm) {
		line, err := readLine(nc)
		return nc, line, err
	}
	sc, st := compressLeaf(nc, cm)
	comp.s2 = st
	info.Compression = comp.cfg.infoMode(cm)
	if err := writeJSONLine(sc, "INFO", &info); err != nil {
		return sc, nil, err
	}
	line, err = readLine(sc)
	return sc, line, err
}

// connectCompression sets the hub's mode from the leaf's CONNECT when it
// was not negotiated by INFO (nats-server's processLeafNodeConnect).
func (c *leafComp) connectCompression(lc *leafConnect) {
	if c.mode.Load() != nil {
		return
	}
	if lc.Compression == "" {
		c.set(CompressionNotSupported)
	} else {
		c.set(lc.Compression)
	}
}

// leafSideCompression runs the leaf's side: given the hub's first INFO,
// either no compression (the mode for our CONNECT is set), or our INFO
// with our compress_mode goes out, the connection switches to S2 both
// ways and the hub's compressed INFO is read and returned (it replaces
// the first: its nonce signs our CONNECT). start is when the connection
// opened (s2_auto's first round trip is from it to the hub's INFO).
func (s *Server) leafSideCompression(nc net.Conn, cid uint64, hub *leafInfo, start time.Time, comp *leafComp) (net.Conn, error) {
	if comp.wsDeflate && compresses(comp.cfg.Mode) {
		comp.set(CompressionOff)
		return nc, nil
	}
	if !compresses(comp.cfg.Mode) {
		if hub.Compression == "" || comp.cfg.Mode == CompressionNotSupported {
			comp.set(CompressionNotSupported)
		} else {
			comp.set(CompressionOff)
		}
		return nc, nil
	}
	cm, err := selectLeafCompression(comp.cfg.Mode, hub.Compression)
	if err != nil {
		return nc, err
	}
	cm = comp.cfg.level(cm, time.Since(start))
	comp.set(cm)
	if !compresses(cm) {
		return nc, nil
	}
	mine := s.leafInfoFor(cid, nil, true)
	mine.Compression = comp.cfg.infoMode(cm)
	if err := writeJSONLine(nc, "INFO", &mine); err != nil {
		return nc, err
	}
	sc, st := compressLeaf(nc, cm)
	comp.s2 = st
	var again leafInfo
	if err := readJSONLine(sc, "INFO", &again); err != nil {
		return sc, err
	}
	*hub = again
	return sc, nil
}

// firstInfo is the hub's first INFO with its compression mode (none when
// configured as not supported, to act as an old server, or over
// WebSocket with permessage-deflate). Later INFOs carry none, as
// nats-server's.
func (c *leafComp) firstInfo(info leafInfo) *leafInfo {
	if c.cfg.Mode != CompressionNotSupported && !c.wsDeflate {
		info.Compression = c.cfg.Mode
	}
	return &info
}
