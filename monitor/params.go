package monitor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Query parameters are decoded as nats-server 2.15 decodes them, so a
// malformed one is answered with HTTP 400 and nats-server's reason (the
// capitalised texts below are its wording, which scripts may match on)
// instead of being ignored. An absent or empty parameter takes its
// default. Where a request has several bad parameters, the handler reports
// the first in nats-server's decoding order.

// decodeBool reads a flag with strconv.ParseBool's spellings (1, t, true,
// 0, f, false, ...); empty is false.
func decodeBool(args *fasthttp.Args, name string) (bool, error) {
	v := string(args.Peek(name))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("Error decoding boolean for '%s': %w", name, err)
	}
	return b, nil
}

// decodeInt reads a decimal int; empty is 0. Negative values pass: the
// callers clamp them to their defaults, as nats-server does.
func decodeInt(args *fasthttp.Args, name string) (int, error) {
	v := string(args.Peek(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("Error decoding int for '%s': %w", name, err)
	}
	return n, nil
}

// decodeUint64 reads a decimal uint64; empty is 0.
func decodeUint64(args *fasthttp.Args, name string) (uint64, error) {
	v := string(args.Peek(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("Error decoding uint64 for '%s': %w", name, err)
	}
	return n, nil
}

// decodeSubs reads the subs parameter of /connz, /routez and /gatewayz:
// "detail" in any case, or a flag. Murmur lists the same subjects for
// both.
func decodeSubs(args *fasthttp.Args) (bool, error) {
	if strings.EqualFold(string(args.Peek("subs")), "detail") {
		return true, nil
	}
	return decodeBool(args, "subs")
}

// decodeState reads /connz's state, in any case; empty is open.
func decodeState(args *fasthttp.Args) (ConnState, error) {
	v := string(args.Peek("state"))
	switch strings.ToLower(v) {
	case "", "open":
		return ConnOpen, nil
	case "closed":
		return ConnClosed, nil
	case "all", "any":
		return ConnAll, nil
	}
	return ConnOpen, fmt.Errorf("Error decoding state for %s", v)
}

// decodeBools checks flags that Murmur accepts but does not act on, so
// a malformed one is still refused.
func decodeBools(args *fasthttp.Args, names ...string) error {
	for _, n := range names {
		if _, err := decodeBool(args, n); err != nil {
			return err
		}
	}
	return nil
}
