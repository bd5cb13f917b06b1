package main

import (
	"time"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
)

// leafCompression takes the compression key of the leafnodes block and of
// a remote, as nats-server's parseCompression: a boolean (true: s2_auto),
// a mode, or { mode, rtt_thresholds } (also thresholds, rtts, rtt), then
// checked and normalized as nats-server does when it starts.
func leafCompression(dst *broker.LeafCompression) setter {
	return func(v *conf.Value) error {
		var mode string
		var rtts []time.Duration
		switch v.Kind {
		case conf.Bool:
			mode = broker.CompressionOff
			if v.Bool {
				mode = broker.CompressionS2Auto
			}
		case conf.String:
			mode = v.Str
		case conf.Block:
			thresholds := func(v *conf.Value) error {
				l, err := v.AsArray()
				if err != nil {
					return err
				}
				for _, e := range l {
					d, err := e.AsDuration()
					if err != nil {
						return err
					}
					rtts = append(rtts, d)
				}
				return nil
			}
			if err := block(keys{
				"mode":           str(&mode),
				"rtt_thresholds": thresholds, "thresholds": thresholds, "rtts": thresholds, "rtt": thresholds,
			})(v); err != nil {
				return err
			}
		default:
			return v.Errorf("field %q should be a boolean or a structure, got %s", v.Key, v.Kind)
		}
		c, err := broker.ParseLeafCompression(mode, rtts)
		if err != nil {
			return v.Errorf("%v", err)
		}
		*dst = c
		return nil
	}
}
