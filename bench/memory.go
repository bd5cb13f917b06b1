package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

// handshake is what a raw client sends after INFO: no +OK acks, then a PING
// whose PONG proves the broker processed the CONNECT.
const handshake = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"name\":\"murmur-bench-raw\"}\r\nPING\r\n"

// rawConnect dials addr and completes the INFO/CONNECT/PING/PONG handshake
// without nats.go, so thousands of connections cost the bench little memory.
// The returned reader holds whatever followed the PONG.
func rawConnect(ctx context.Context, addr string) (net.Conn, *bufio.Reader, error) {
	return rawConnectVia(ctx, &net.Dialer{Timeout: 10 * time.Second}, addr)
}

// rawConnectVia is rawConnect with a caller's dialer, say one that sets
// socket options before the SYN.
func rawConnectVia(ctx context.Context, d *net.Dialer, addr string) (net.Conn, *bufio.Reader, error) {
	return rawConnectWith(ctx, d, addr, func(string) (string, error) { return handshake, nil })
}

// rawConnectWith is rawConnectVia with the client's reply to INFO built by
// hello from the INFO line (say a CONNECT that signs the nonce); the reply
// must end in a PING.
func rawConnectWith(ctx context.Context, d *net.Dialer, addr string, hello func(info string) (string, error)) (net.Conn, *bufio.Reader, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReaderSize(c, 4096)
	line, err := r.ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "INFO ") {
		err = fmt.Errorf("expected INFO, got %q", line)
	}
	var reply string
	if err == nil {
		reply, err = hello(line)
	}
	if err == nil {
		_, err = c.Write([]byte(reply))
	}
	if err == nil {
		err = readUntilPong(r, c)
	}
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, r, nil
}

// readUntilPong reads protocol lines until PONG, answering the broker's
// PINGs and failing on -ERR.
func readUntilPong(r *bufio.Reader, c net.Conn) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "PONG"):
			return nil
		case strings.HasPrefix(line, "PING"):
			if _, err := c.Write([]byte("PONG\r\n")); err != nil {
				return err
			}
		case strings.HasPrefix(line, "-ERR"):
			return errors.New(strings.TrimSpace(line))
		}
	}
}

// raiseNoFileLimit lifts the soft open-files limit to the hard one. Broker
// subprocesses inherit it.
func raiseNoFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// idleConns measures broker RSS with many connected, idle clients.
type idleConns struct {
	count int // connections at full scale
}

func (w idleConns) run(ctx context.Context, env *Env, b *Broker) (Result, error) {
	n := env.scaled(w.count, 100)
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// A few dialers in parallel: fast, without a SYN flood on the backlog.
	const workers = 16
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := wk; i < n; i += workers {
				if ctx.Err() != nil {
					errs[wk] = ctx.Err()
					return
				}
				c, _, err := rawConnect(ctx, b.Addr)
				if err != nil {
					errs[wk] = fmt.Errorf("connection %d of %d: %w", i+1, n, err)
					return
				}
				conns[i] = c
				if wk == 0 && i > 0 && i%2048 == 0 {
					env.Progress("%d of %d connections", i, n)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	return settledRSS(ctx, b)
}

// manySubs measures broker RSS holding many subscriptions, sent as plain
// SUB lines over a few connections, each to a distinct literal subject.
type manySubs struct {
	conns int // connections
	count int // subscriptions over all connections, at full scale
}

func (w manySubs) run(ctx context.Context, env *Env, b *Broker) (Result, error) {
	per := env.scaled(w.count, 1000) / w.conns
	var wg sync.WaitGroup
	errs := make([]error, w.conns)
	conns := make([]net.Conn, w.conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for ci := range w.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, r, err := rawConnect(ctx, b.Addr)
			if err != nil {
				errs[ci] = err
				return
			}
			conns[ci] = c
			bw := bufio.NewWriterSize(c, 64<<10)
			for i := range per {
				fmt.Fprintf(bw, "SUB bench.sub.%d.%d %d\r\n", ci, i, i+1)
				if ci == 0 && i > 0 && i%250_000 == 0 {
					env.Progress("%d of %d subscriptions on each connection", i, per)
				}
			}
			_, _ = bw.WriteString("PING\r\n")
			if err := bw.Flush(); err != nil {
				errs[ci] = fmt.Errorf("sending SUBs: %w", err)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
			if err := readUntilPong(r, c); err != nil {
				errs[ci] = fmt.Errorf("waiting for PONG after %d SUBs: %w", per, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	return settledRSS(ctx, b)
}

// settledRSS samples the broker's RSS every 100 ms until two samples agree
// within 1% (or 3 s pass) and reports it in MiB.
func settledRSS(ctx context.Context, b *Broker) (Result, error) {
	prev, err := b.RSS()
	if err != nil {
		return Result{}, err
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		cur, err := b.RSS()
		if err != nil {
			return Result{}, err
		}
		d := cur - prev
		prev = cur
		if d < 0 {
			d = -d
		}
		if d*100 <= cur {
			break
		}
	}
	return Result{Value: float64(prev) / (1 << 20)}, nil
}
