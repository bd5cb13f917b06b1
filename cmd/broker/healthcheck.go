package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// errHealthy ends a `broker --healthcheck URL` run successfully: the
// broker at URL answered 200.
var errHealthy = errors.New("healthy")

// healthcheckTimeout bounds one probe: connect, request and the answer.
const healthcheckTimeout = 5 * time.Second

// registerHealthcheck adds --healthcheck, the probe a container image runs
// as its HEALTHCHECK (a scratch image has no curl): the binary asks a
// running broker's /healthz and exits 0 if it answers 200, else 1 with the
// reason.
func registerHealthcheck(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "healthcheck", "", "probe a running broker's monitor: GET `url` (e.g. http://127.0.0.1:8222/healthz; "+
		"a bare host:port means its /healthz), exit 0 on 200, else 1")
}

// probeHealth runs the --healthcheck probe. It returns errHealthy on 200
// and an error naming the status and the broker's reason otherwise.
func probeHealth(target string) error {
	u, err := healthURL(target)
	if err != nil {
		return fmt.Errorf("--healthcheck: %v", err)
	}
	c := &http.Client{Timeout: healthcheckTimeout}
	resp, err := c.Get(u)
	if err != nil {
		return fmt.Errorf("--healthcheck: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("--healthcheck: %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return errHealthy
}

// healthURL completes target: a missing scheme is http, a missing path
// is /healthz.
func healthURL(target string) (string, error) {
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	u, err := url.Parse(target)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q: want an http:// or https:// URL", target)
	case u.Host == "":
		return "", fmt.Errorf("%q: no host", target)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/healthz"
	}
	return u.String(), nil
}
