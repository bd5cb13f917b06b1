package main

import (
	"strconv"
	"strings"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/pubsub"
	"github.com/murmurmq/murmur/transform"
)

// registerMappings adds nats-server's top-level `mappings` (alias
// `maps`), the global account's subject mappings, to ks.
func registerMappings(ks keys, dst *[]broker.Mapping) {
	ks["mappings"] = mappings(dst)
	ks["maps"] = ks["mappings"]
}

// mappings reads a mappings block, as nats-server's
// parseAccountMappings: each key a source subject, each value a
// destination subject, one destination { dest, weight, cluster }, or a
// list of them. Each mapping is checked as the broker will apply it, so
// an error names the line. The texts are nats-server's.
//
//	mappings {
//	  "foo": "bar"
//	  "orders.*.*": "orders.{{wildcard(2)}}.{{wildcard(1)}}"
//	  "canary": [{destination: "v1", weight: 90%}, {destination: "v2", weight: 10%}]
//	  "x.*": [{dest: "y.$1", weight: 50, cluster: "east"}]
//	}
func mappings(dst *[]broker.Mapping) setter {
	return func(v *conf.Value) error {
		m, err := v.AsMap()
		if err != nil {
			return err
		}
		var out []broker.Mapping
		for _, f := range m.Fields {
			if !pubsub.ValidSubject(f.Key) {
				return f.Value.Errorf("Subject %q is not a valid subject", f.Key)
			}
			var elems []*conf.Value
			switch f.Value.Kind {
			case conf.String:
				out = append(out, broker.Mapping{Source: f.Key, Dests: []transform.Dest{{Subject: f.Value.Str, Weight: 100}}})
				if _, err := transform.NewMapping(f.Key, out[len(out)-1].Dests...); err != nil {
					return f.Value.Errorf("%v", err)
				}
				continue
			case conf.Array:
				elems = f.Value.Array
			default:
				elems = []*conf.Value{f.Value}
			}
			bm := broker.Mapping{Source: f.Key}
			for _, e := range elems {
				d, err := mapDest(e)
				if err != nil {
					return err
				}
				bm.Dests = append(bm.Dests, d)
			}
			if _, err := transform.NewMapping(f.Key, bm.Dests...); err != nil {
				return f.Value.Errorf("%v", err)
			}
			out = append(out, bm)
		}
		*dst = out
		return nil
	}
}

// mapDest reads one weighted destination: { dest | destination, weight
// (0 to 100, "90%" or 90), cluster }, keys in any case.
func mapDest(v *conf.Value) (transform.Dest, error) {
	var d transform.Dest
	if v.Kind != conf.Block {
		return d, v.Errorf("Expected an entry for the mapping destination")
	}
	weighted := false
	for _, f := range v.Map.Fields {
		fv := f.Value
		switch strings.ToLower(f.Key) {
		case "dest", "destination":
			s, err := fv.AsString()
			if err != nil {
				return d, err
			}
			d.Subject = s
		case "cluster":
			s, err := fv.AsString()
			if err != nil {
				return d, err
			}
			d.Cluster = s
		case "weight":
			w, err := weight(fv)
			if err != nil {
				return d, err
			}
			d.Weight, weighted = w, true
		default:
			return d, fv.Errorf("Unknown field %q for mapping destination", f.Key)
		}
	}
	if !weighted {
		return d, v.Errorf("Missing weight for mapping destination %q", d.Subject)
	}
	return d, nil
}

// weight reads a weight: an integer or a string with an optional "%".
func weight(v *conf.Value) (uint8, error) {
	var w int64
	switch v.Kind {
	case conf.Int:
		w = v.Int
	case conf.String:
		s := strings.TrimSuffix(v.Str, "%")
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, v.Errorf("Invalid weight %q for mapping destination", s)
		}
		w = int64(n)
	default:
		raw := v.Raw
		if raw == "" {
			raw = v.Kind.String()
		}
		return 0, v.Errorf("Unknown entry type for weight of %s", raw)
	}
	if w < 0 || w > 100 {
		return 0, v.Errorf("Invalid weight %d for mapping destination", w)
	}
	return uint8(w), nil
}
