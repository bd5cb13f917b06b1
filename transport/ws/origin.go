package ws

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originPolicy is nats-server's same_origin and allowed_origins check.
type originPolicy struct {
	same    bool
	allowed map[string][]schemePort // by host
}

type schemePort struct{ scheme, port string }

func newOriginPolicy(same bool, allowed []string) (*originPolicy, error) {
	p := &originPolicy{same: same}
	for _, o := range allowed {
		u, err := url.ParseRequestURI(o)
		if err != nil {
			return nil, fmt.Errorf("ws: allowed origin %q: %w", o, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("ws: allowed origin %q: must be an absolute URL with http or https scheme", o)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("ws: allowed origin %q: host is required", o)
		}
		h, port, err := hostPort(u.Scheme == "https", u.Host)
		if err != nil {
			return nil, fmt.Errorf("ws: allowed origin %q: %w", o, err)
		}
		if p.allowed == nil {
			p.allowed = map[string][]schemePort{}
		}
		p.allowed[h] = append(p.allowed[h], schemePort{u.Scheme, port})
	}
	return p, nil
}

// check returns why r's origin is refused, or nil. With neither check
// configured, or without an Origin header (only browsers send one, and a
// program could send anything), every request passes.
func (p *originPolicy) check(r *http.Request, overTLS bool) error {
	if !p.same && len(p.allowed) == 0 {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Sec-WebSocket-Origin")
	}
	if origin == "" {
		return nil
	}
	u, err := url.ParseRequestURI(origin)
	if err != nil {
		return err
	}
	oh, op, err := hostPort(u.Scheme == "https", u.Host)
	if err != nil {
		return err
	}
	if p.same {
		rh, rp, err := hostPort(overTLS, r.Host)
		if err != nil {
			return err
		}
		scheme := "http"
		if overTLS {
			scheme = "https"
		}
		if oh != rh || op != rp || !strings.EqualFold(u.Scheme, scheme) {
			return errors.New("not same origin")
		}
	}
	if len(p.allowed) > 0 {
		for _, a := range p.allowed[oh] {
			if a.scheme == u.Scheme && a.port == op {
				return nil
			}
		}
		return errors.New("not in the allowed list")
	}
	return nil
}

// hostPort splits host[:port], with the scheme's default port.
func hostPort(tls bool, hostport string) (string, string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) && strings.Contains(ae.Err, "missing port") {
			port = "80"
			if tls {
				port = "443"
			}
			return strings.ToLower(strings.Trim(hostport, "[]")), port, nil
		}
		return "", "", err
	}
	return strings.ToLower(host), port, nil
}
