package jetstream

import "strings"

// A JetStream domain (jetstream { domain: hub }) makes the API reachable
// as $JS.<domain>.API.> too, as nats-server's mapping of that prefix onto
// $JS.API.> in every JetStream account: a client in another domain (over
// a leaf node) or one that names the domain (nats.go WithDomain) reaches
// it. The domain is reported in account info, PubAcks, advisories, /jsz
// and /varz.

// ValidDomain reports whether d can be a domain: a name without '.',
// '*', '>' or white space (nats-server's isValidName).
func ValidDomain(d string) bool {
	return d != "" && !strings.ContainsAny(d, ".*> \t\r\n")
}

// subscribeDomain subscribes $JS.<domain>.API.> when there is a domain;
// api is the id of the $JS.API.> subscription. Call it from Start, after
// that subscription.
func (e *Engine) subscribeDomain(conn Conn, api int) error {
	e.ops.apiSub.Store(int64(api))
	if e.ops.domainAPI == "" {
		return nil
	}
	_, err := conn.Subscribe(e.ops.domainAPI + ">")
	return err
}

// fromDomain turns a request on $JS.<domain>.API.<x> into one on
// $JS.API.<x> of the API subscription; anything else passes unchanged.
// It runs on publishers' goroutines: it reads only what Start set before
// the domain subscription existed.
func (e *Engine) fromDomain(sub int, subject string) (int, string) {
	if e.ops.domainAPI == "" {
		return sub, subject
	}
	if rest, ok := strings.CutPrefix(subject, e.ops.domainAPI); ok {
		return int(e.ops.apiSub.Load()), apiPrefix + rest
	}
	return sub, subject
}
