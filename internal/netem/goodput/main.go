// Command goodput measures raw bulk goodput through an internal/netem
// link, TCP against QUIC (quic-go), without a broker in between, to find
// what limits a transport on a lossy path:
//
//	sudo go run ./internal/netem/goodput -runs 3 -dur 20s
//
// Each run makes a fresh link (25 ms each way, 1 % loss each way), starts
// a receiver in namespace A and a sender in namespace B (this binary, in
// the namespace through `ip netns exec`), and prints the bytes per second
// the receiver read between warm and warm+dur. Run i of every kind uses
// loss seed i, and the last lines give each kind's per-run ratio to the
// first kind's. The QUIC sides use quic-go with transport/quic's window
// defaults; with QLOGDIR set they write qlog files there. docs/quic.md
// ("Goodput on a lossy link") quotes its figures.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	quicgo "github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"

	"github.com/murmurmq/murmur/internal/netem"
	"github.com/murmurmq/murmur/transport/quic"
)

var (
	role    = flag.String("role", "", "internal: recv or send")
	proto   = flag.String("proto", "", "internal: tcp or quic")
	kinds   = flag.String("kinds", "tcp-cubic,quic", "comma-separated: tcp-cubic, tcp-reno, tcp-bbr, quic, quic-ips1452, quic-nopmtud")
	runs    = flag.Int("runs", 3, "runs of each kind")
	warm    = flag.Duration("warm", 2*time.Second, "warm-up before measuring")
	dur     = flag.Duration("dur", 15*time.Second, "measuring time")
	wsize   = flag.Int("write", 64<<10, "bytes per Write")
	delay   = flag.Duration("delay", 25*time.Millisecond, "one-way delay")
	loss    = flag.Float64("loss", 0.01, "loss each way")
	ips     = flag.Int("ips", 0, "internal: quic InitialPacketSize")
	nopmtud = flag.Bool("nopmtud", false, "internal: quic DisablePathMTUDiscovery")
)

const port = "7500"

func main() {
	flag.Parse()
	switch *role {
	case "recv":
		fail(recv())
		return
	case "send":
		fail(send())
		return
	}
	bin, err := os.Executable()
	fail(err)
	ks := strings.Split(*kinds, ",")
	all := make([][]float64, len(ks))
	for k, kind := range ks {
		for i := range *runs {
			v, info, err := once(bin, kind, int64(i+1))
			fail(err)
			all[k] = append(all[k], v)
			fmt.Printf("%-14s run %d: %7.0f KiB/s  %s\n", kind, i+1, v/1024, info)
		}
		lo, med, hi := spread(all[k])
		fmt.Printf("%-14s median %7.0f KiB/s [%.0f–%.0f]\n", kind, med/1024, lo/1024, hi/1024)
	}
	for k := 1; k < len(ks); k++ {
		r := make([]float64, *runs)
		for i := range r {
			r[i] = all[k][i] / all[0][i]
		}
		lo, med, hi := spread(r)
		fmt.Printf("%s ÷ %s per run: median %.2f [%.2f–%.2f]\n", ks[k], ks[0], med, lo, hi)
	}
}

// spread returns the lowest, median and highest of vs.
func spread(vs []float64) (lo, med, hi float64) {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	return s[0], s[len(s)/2], s[len(s)-1]
}

func once(bin, kind string, seed int64) (float64, string, error) {
	cfg := netem.Config{Delay: *delay, Loss: *loss, Seed: seed}
	p := "quic"
	var extra []string
	switch kind {
	case "tcp-cubic", "tcp-reno", "tcp-bbr":
		p, cfg.TCPCongestion = "tcp", strings.TrimPrefix(kind, "tcp-")
	case "quic":
	case "quic-ips1452":
		extra = append(extra, "-ips", "1452")
	case "quic-nopmtud":
		extra = append(extra, "-nopmtud")
	default:
		return 0, "", fmt.Errorf("unknown kind %q", kind)
	}
	link, err := netem.New(cfg)
	if err != nil {
		return 0, "", err
	}
	defer link.Close()
	common := append([]string{"-proto", p, "-warm", warm.String(), "-dur", dur.String(), "-write", strconv.Itoa(*wsize)}, extra...)
	rc := link.Command(netem.A, bin, append([]string{"-role", "recv"}, common...)...)
	rc.Stderr = os.Stderr
	out, err := rc.StdoutPipe()
	if err != nil {
		return 0, "", err
	}
	if err := rc.Start(); err != nil {
		return 0, "", err
	}
	defer rc.Process.Kill()
	br := bufio.NewReader(out)
	if _, err := br.ReadString('\n'); err != nil { // "ready"
		return 0, "", fmt.Errorf("receiver: %w", err)
	}
	sc := link.Command(netem.B, bin, append([]string{"-role", "send"}, common...)...)
	sc.Stderr = os.Stderr
	sout, _ := sc.StdoutPipe()
	if err := sc.Start(); err != nil {
		return 0, "", err
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("receiver: %w", err)
	}
	sinfo, _ := io.ReadAll(sout)
	_ = sc.Wait()
	_ = rc.Wait()
	v, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
	st := link.Stats(netem.B)
	back := link.Stats(netem.A)
	info := fmt.Sprintf("fwd %d pkts %d B/pkt %d lost; back %d pkts %d lost; %s", st.Packets, st.Bytes/max(st.Packets, 1), st.Lost, back.Packets, back.Lost, strings.TrimSpace(string(sinfo)))
	return v, info, err
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func quicConfig() *quicgo.Config {
	return &quicgo.Config{
		MaxIdleTimeout:                 30 * time.Second,
		KeepAlivePeriod:                time.Second,
		MaxStreamReceiveWindow:         quic.DefaultMaxReceiveWindow,
		MaxConnectionReceiveWindow:     quic.DefaultMaxReceiveWindow,
		InitialStreamReceiveWindow:     512 << 10,
		InitialConnectionReceiveWindow: 512 << 10,
		InitialPacketSize:              uint16(*ips),
		DisablePathMTUDiscovery:        *nopmtud,
		Tracer:                         qlog.DefaultConnectionTracer,
	}
}

// recv prints "ready", accepts one connection, reads it and prints the
// goodput.
func recv() error {
	var r io.Reader
	switch *proto {
	case "tcp":
		ln, err := net.Listen("tcp", netem.IPA+":"+port)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		r = c
	case "quic":
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		ln, err := quicgo.ListenAddr(netem.IPA+":"+port, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"x"}}, quicConfig())
		if err != nil {
			return err
		}
		fmt.Println("ready")
		qc, err := ln.Accept(context.Background())
		if err != nil {
			return err
		}
		s, err := qc.AcceptStream(context.Background())
		if err != nil {
			return err
		}
		r = s
	}
	buf := make([]byte, 256<<10)
	var total, markN int64
	var first, markT time.Time
	for {
		n, err := r.Read(buf)
		if first.IsZero() && n > 0 {
			first = time.Now()
		}
		total += int64(n)
		now := time.Now()
		if markT.IsZero() && !first.IsZero() && now.Sub(first) >= *warm {
			markN, markT = total, now
		}
		if !markT.IsZero() && now.Sub(markT) >= *dur {
			fmt.Printf("%f\n", float64(total-markN)/now.Sub(markT).Seconds())
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// send writes until the receiver goes away, then prints its stats.
func send() error {
	var w io.Writer
	var stats func() string
	switch *proto {
	case "tcp":
		c, err := net.Dial("tcp", netem.IPA+":"+port)
		if err != nil {
			return err
		}
		w = c
		stats = func() string { return "" }
	case "quic":
		qc, err := quicgo.DialAddr(context.Background(), netem.IPA+":"+port, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"x"}}, quicConfig())
		if err != nil {
			return err
		}
		s, err := qc.OpenStream()
		if err != nil {
			return err
		}
		w = s
		stats = func() string {
			cs := qc.ConnectionStats()
			return fmt.Sprintf("quic: sent %d pkts (%d B/pkt), lost %d, srtt %v, minrtt %v, cwnd %d", cs.PacketsSent, cs.BytesSent/max(cs.PacketsSent, 1), cs.PacketsLost, cs.SmoothedRTT, cs.MinRTT, cs.CongestionWindow)
		}
	}
	buf := make([]byte, *wsize)
	for {
		if _, err := w.Write(buf); err != nil {
			fmt.Println(stats())
			return nil
		}
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
