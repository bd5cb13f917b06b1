package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestConfigLeafCompression: the compression key of the leafnodes block
// and of a remote, in every form nats-server takes, normalized as it does.
func TestConfigLeafCompression(t *testing.T) {
	cases := []struct{ value, want string }{
		{`off`, "off []"},
		{`false`, "off []"},
		{`"disabled"`, "off []"},
		{`on`, "s2_auto []"},
		{`true`, "s2_auto []"},
		{`"enabled"`, "s2_auto []"},
		{`accept`, "accept []"},
		{`s2_fast`, "s2_fast []"},
		{`fast`, "s2_fast []"},
		{`"S2_Better"`, "s2_better []"},
		{`best`, "s2_best []"},
		{`s2_auto`, "s2_auto []"},
		{`auto`, "s2_auto []"},
		{`{ mode: s2_auto, rtt_thresholds: ["5ms", "20ms", "0", "0"] }`, "s2_auto [5ms 20ms]"},
		{`{ mode: s2_auto, rtts: ["0ms", "0ms", "40ms"] }`, "s2_auto [0s 0s 40ms]"},
		{`{ mode: s2_fast }`, "s2_fast []"},
		{`"not supported"`, "not supported []"},
	}
	for _, c := range cases {
		for _, where := range []string{"hub", "remote"} {
			text := fmt.Sprintf("leafnodes { port: -1, compression: %s }", c.value)
			if where == "remote" {
				text = fmt.Sprintf(`leafnodes { remotes: [ { url: "nats://h:7422", compression: %s } ] }`, c.value)
			}
			cfg, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), text)}, io.Discard)
			if err != nil {
				t.Errorf("%s: %v", text, err)
				continue
			}
			co := cfg.opts.LeafNode.Compression
			if where == "remote" {
				co = cfg.opts.LeafNode.Remotes[0].Compression
			}
			if got := fmt.Sprintf("%s %v", co.Mode, co.RTTThresholds); got != c.want {
				t.Errorf("%s: got %s, want %s", text, got, c.want)
			}
		}
	}
}

// TestConfigLeafCompressionErrors: nats-server's texts.
func TestConfigLeafCompressionErrors(t *testing.T) {
	cases := []struct{ value, want string }{
		{`s2_ultra`, `leafnodes.compression: unsupported compression mode "s2_ultra"`},
		{`{ mode: s2_auto, rtt_thresholds: ["50ms", "10ms"] }`, `RTT threshold values [50ms 10ms] should be in ascending order`},
		{`{ mode: s2_auto, rtt_thresholds: ["1ms", "2ms", "3ms", "4ms", "5ms"] }`, `compression mode "s2_auto" should have no more than 4 RTT thresholds: [1ms 2ms 3ms 4ms 5ms]`},
		{`{ mode: s2_auto, rtt_thresholds: ["0s"] }`, `compression mode "s2_auto" requires at least one RTT threshold`},
		{`{ mode: s2_auto, bogus: 1 }`, `bogus: unknown key`},
		{`12`, `should be a boolean or a structure`},
	}
	for _, c := range cases {
		text := fmt.Sprintf("leafnodes { port: -1, compression: %s }", c.value)
		_, err := parseFlags([]string{"-c", writeConf(t, t.TempDir(), text)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", text, err, c.want)
		}
	}
}
