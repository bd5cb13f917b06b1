package main

import (
	"strings"

	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/jetstream"
)

// jsAccount is one account's jetstream key (nats-server
// parseJetStreamForAccount): `jetstream: enabled | disabled | true |
// false | { max_mem, max_file, max_streams, max_consumers,
// max_ack_pending, max_bytes_required, memory_max_stream_bytes,
// store_max_stream_bytes }`, each limit -1 (none) unless given.
type jsAccount struct {
	enabled bool
	limits  jetstream.AccountLimits
}

// account returns the settings of account name, creating them.
func (j *jsFlags) account(name string) *jsAccount {
	if j.accounts == nil {
		j.accounts = map[string]*jsAccount{}
	}
	a := j.accounts[name]
	if a == nil {
		a = &jsAccount{limits: jetstream.NoLimits()}
		j.accounts[name] = a
	}
	return a
}

// accountKey is the setter of accounts.<name>.jetstream.
func (j *jsFlags) accountKey(name string) setter {
	return func(v *conf.Value) error {
		a := j.account(name)
		switch v.Kind {
		case conf.Bool:
			a.enabled = v.Bool
			return nil
		case conf.Block:
			a.enabled = true
			l := &a.limits
			return block(keys{
				"max_memory":              limit64(&l.MaxMemory),
				"max_mem":                 limit64(&l.MaxMemory),
				"mem":                     limit64(&l.MaxMemory),
				"memory":                  limit64(&l.MaxMemory),
				"max_store":               limit64(&l.MaxStore),
				"max_file":                limit64(&l.MaxStore),
				"max_disk":                limit64(&l.MaxStore),
				"store":                   limit64(&l.MaxStore),
				"disk":                    limit64(&l.MaxStore),
				"max_streams":             limitInt(&l.MaxStreams),
				"streams":                 limitInt(&l.MaxStreams),
				"max_consumers":           limitInt(&l.MaxConsumers),
				"consumers":               limitInt(&l.MaxConsumers),
				"max_ack_pending":         limitInt(&l.MaxAckPending),
				"max_bytes_required":      boolean(&l.MaxBytesRequired),
				"max_stream_bytes":        boolean(&l.MaxBytesRequired),
				"max_bytes":               boolean(&l.MaxBytesRequired),
				"mem_max_stream_bytes":    limit64(&l.MemoryMaxStream),
				"memory_max_stream_bytes": limit64(&l.MemoryMaxStream),
				"disk_max_stream_bytes":   limit64(&l.StoreMaxStream),
				"store_max_stream_bytes":  limit64(&l.StoreMaxStream),
				"cluster_traffic":         refused("cluster_traffic needs a JetStream cluster, which is not built"),
			})(v)
		}
		s, err := v.AsString()
		if err != nil {
			return v.Errorf("want enabled, disabled, a boolean or a block of limits, got %s", v.Kind)
		}
		switch strings.ToLower(s) {
		case "enabled", "enable":
			a.enabled = true
		case "disabled", "disable":
			a.enabled = false
		default:
			return v.Errorf("want enabled or disabled, got %q", s)
		}
		return nil
	}
}

// limit64 reads a size limit: bytes, or -1 for none.
func limit64(dst *int64) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsInt()
		if err == nil && *dst < -1 {
			return v.Errorf("want a size in bytes (or -1 for no limit), got %d", *dst)
		}
		return err
	}
}

// limitInt reads a count limit, or -1 for none.
func limitInt(dst *int) setter {
	return func(v *conf.Value) (err error) {
		*dst, err = v.AsIntRange(-1, maxInt)
		return err
	}
}
