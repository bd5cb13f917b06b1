package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// leafFlow runs f across a leaf node connection: a hub and a leaf broker
// of the side under test, configured by the same leafnodes blocks (the
// syntax is nats-server's on both sides), with the publishers on the leaf
// (pubOnLeaf) or on the hub and the subscribers on the other, measuring
// once interest has crossed.
func leafFlow(f flow, pubOnLeaf bool) func(context.Context, *Env) (Result, error) {
	return leafFlowCompressed(f, pubOnLeaf, "")
}

// leafFlowCompressed is leafFlow with compression set to mode on both
// the hub's leafnodes block and the remote ("": neither says, each
// side's default).
func leafFlowCompressed(f flow, pubOnLeaf bool, mode string) func(context.Context, *Env) (Result, error) {
	comp := ""
	if mode != "" {
		comp = fmt.Sprintf(", compression: %q", mode)
	}
	return func(ctx context.Context, env *Env) (Result, error) {
		if env.Side != sideOurs && env.Side != sideNATS {
			return Result{}, ErrNotApplicable
		}
		port, err := freePort()
		if err != nil {
			return Result{}, err
		}
		dir, err := os.MkdirTemp("", "bench-leaf")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		hubConf, leafConf := filepath.Join(dir, "hub.conf"), filepath.Join(dir, "leaf.conf")
		if err := os.WriteFile(hubConf, fmt.Appendf(nil, "leafnodes { listen: \"127.0.0.1:%d\"%s }\n", port, comp), 0o644); err != nil {
			return Result{}, err
		}
		if err := os.WriteFile(leafConf, fmt.Appendf(nil, "leafnodes { remotes: [ { url: \"nats://127.0.0.1:%d\"%s } ] }\n", port, comp), 0o644); err != nil {
			return Result{}, err
		}
		hub, err := env.Start(ctx, "-c", hubConf)
		if err != nil {
			return Result{}, err
		}
		leaf, err := env.Start(ctx, "-c", leafConf)
		if err != nil {
			return Result{}, err
		}
		ep := endpoints{pub: hub.URL, sub: leaf.URL, probe: true}
		if pubOnLeaf {
			ep.pub, ep.sub = leaf.URL, hub.URL
		}
		r, err := f.runOn(ctx, env, ep)
		return r, withExits(err, []*Broker{hub, leaf})
	}
}
