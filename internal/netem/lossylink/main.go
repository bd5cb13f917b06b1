// Command lossylink holds a netem link (internal/netem) open until it is
// interrupted: two network namespaces joined by a userspace relay with
// delay, loss and a bandwidth cap, for trying things by hand. Run
// programs in them with `ip netns exec <namespace> ...`; it prints the
// names and addresses, and removes both namespaces on SIGINT or SIGTERM.
//
//	sudo go run ./internal/netem/lossylink -delay 25ms -loss 0.01
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/murmurmq/murmur/internal/netem"
)

func main() {
	var cfg netem.Config
	flag.DurationVar(&cfg.Delay, "delay", 25*time.Millisecond, "one-way delay, each direction")
	flag.DurationVar(&cfg.Jitter, "jitter", 0, "spread of the delay (± this, no reordering)")
	flag.Float64Var(&cfg.Loss, "loss", 0.01, "probability a packet is dropped, each direction")
	flag.Int64Var(&cfg.Rate, "rate", 0, "bandwidth cap in bytes/s, each direction (0: none)")
	flag.Int64Var(&cfg.Seed, "seed", 1, "seed of the loss and jitter draws")
	flag.StringVar(&cfg.TCPCongestion, "tcp_cc", "", "TCP congestion control in both namespaces (cubic, bbr, reno; empty: the host's)")
	flag.Parse()
	l, err := netem.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("side a: namespace %s, address %s\nside b: namespace %s, address %s\n", l.Namespace(netem.A), netem.IPA, l.Namespace(netem.B), netem.IPB)
	fmt.Printf("delay %v ±%v, loss %.2f%%, rate %d B/s; Ctrl-C removes both\n", cfg.Delay, cfg.Jitter, 100*cfg.Loss, cfg.Rate)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	for _, s := range []netem.Side{netem.A, netem.B} {
		st := l.Stats(s)
		fmt.Printf("from %s: %d packets, %d lost, %d dropped at the queue limit\n", s, st.Packets, st.Lost, st.Overflow)
	}
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
