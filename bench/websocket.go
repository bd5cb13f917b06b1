package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nats-io/nats.go"
)

// wsBroker is a broker of the side under test with a WebSocket listener
// next to TCP. Both take the same config file: nats-server's
// websocket { port, no_tls, compression } block, which ours reads too.
type wsBroker struct {
	*Broker
	// WSURL is the ws:// URL of the WebSocket listener.
	WSURL string
}

func startWS(ctx context.Context, env *Env, compress bool) (*wsBroker, error) {
	if env.Side != sideOurs && env.Side != sideNATS {
		return nil, ErrNotApplicable
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("websocket {\n  host: 127.0.0.1\n  port: %d\n  no_tls: true\n  compression: %t\n}\n", port, compress)
	dir, err := os.MkdirTemp(env.launcher.LogDir, "ws-conf-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "ws.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	b, err := env.Start(ctx, "-c", path)
	if err != nil {
		return nil, err
	}
	return &wsBroker{Broker: b, WSURL: "ws://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, nil
}

// wsFlow runs f with every client on the WebSocket listener (nats.go over
// ws://), offering permessage-deflate when compress is set.
func wsFlow(f flow, compress bool) func(context.Context, *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		wb, err := startWS(ctx, env, compress)
		if err != nil {
			return Result{}, err
		}
		ep := endpoints{pub: wb.WSURL, sub: wb.WSURL, opts: []nats.Option{nats.Compression(compress)}}
		r, err := f.runOn(ctx, env, ep)
		return r, withExits(err, []*Broker{wb.Broker})
	}
}
