package main

import (
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/gossip"
)

// errGossipKeygen ends parsing after --gossip_keygen: run prints a key.
var errGossipKeygen = errors.New("gossip key requested")

// printGossipKey writes a fresh gossip key (gossip.NewKey) and a newline.
func printGossipKey(w io.Writer) error {
	k, err := gossip.NewKey()
	if err != nil {
		return fmt.Errorf("gossip_keygen: %w", err)
	}
	_, err = fmt.Fprintln(w, k)
	return err
}

// warnPlainGossip logs, once at start, that gossip runs without
// encryption: anyone who reaches the gossip port can then read the
// cluster's members and addresses and join it.
func warnPlainGossip(g *gossip.Config, log *zap.Logger) {
	if g == nil || g.SecretKey != "" || len(g.SecretKeyRaw) > 0 {
		return
	}
	log.Warn("gossip is not encrypted: anyone who reaches the gossip port can join the cluster and read its members; " +
		"set gossip { key } (or --gossip_key) on every broker, made with `broker --gossip_keygen`")
}
