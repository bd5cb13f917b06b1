package main

import (
	"math"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
)

// refusedAccountLimits are keys of an account's limits block (nats-server
// parseAccountLimits) Murmur does not implement.
var refusedAccountLimits = map[string]string{
	"max_connections":   "a configured account's connections are not limited",
	"max_conn":          "a configured account's connections are not limited",
	"max_subscriptions": "a configured account's subscriptions are not limited",
	"max_subs":          "a configured account's subscriptions are not limited",
	"max_payload":       "a configured account's payload is the server's max_payload",
	"max_pay":           "a configured account's payload is the server's max_payload",
}

// accountLimits is an account's limits block: max_leafnodes (max_leafs),
// as nats-server reads it: 0 allows no leaf node connection, a negative
// value any number (broker.Account.MaxLeafNodes says it the other way).
func accountLimits(acc *broker.Account) setter {
	return block(refuse(keys{
		"max_leafnodes": leafLimit(acc),
		"max_leafs":     leafLimit(acc),
	}, refusedAccountLimits))
}

func leafLimit(acc *broker.Account) setter {
	return func(v *conf.Value) error {
		n, err := v.AsIntRange(math.MinInt32, math.MaxInt32)
		switch {
		case err != nil:
			return err
		case n == 0:
			acc.MaxLeafNodes = -1
		case n < 0:
			acc.MaxLeafNodes = 0
		default:
			acc.MaxLeafNodes = n
		}
		return nil
	}
}
