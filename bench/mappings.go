package main

import (
	"context"
)

// mappingConf maps every subject under bench. to the same token under
// mapped. with a wildcard mapping, the same file for both sides.
const mappingConf = `
mappings = {
  "bench.*": "mapped.{{wildcard(1)}}"
}
`

// mappedFlow is f on a broker with mappingConf: the publishers publish on
// bench.*, the subscribers receive on mapped.*.
func mappedFlow(f flow) func(context.Context, *Env) (Result, error) {
	return withConfig(mappingConf, func(ctx context.Context, env *Env, b *Broker) (Result, error) {
		return f.runOn(ctx, env, endpoints{pub: b.URL, sub: b.URL})
	})
}
