package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// varz is what the workload reads from /varz; both brokers name the
// fields alike.
type varz struct {
	SlowConsumers int64 `json:"slow_consumers"`
	Connections   int   `json:"connections"`
}

// varzClient reads a broker's /varz.
type varzClient struct {
	url string
	tr  *http.Transport
	hc  *http.Client
}

func newVarzClient(port int) *varzClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	return &varzClient{
		url: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/varz",
		tr:  tr,
		hc:  &http.Client{Transport: tr, Timeout: time.Second},
	}
}

// close drops the kept-alive connection and its goroutines.
func (v *varzClient) close() { v.tr.CloseIdleConnections() }

func (v *varzClient) read(ctx context.Context) (varz, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return varz{}, err
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return varz{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return varz{}, fmt.Errorf("GET %s: %s", v.url, resp.Status)
	}
	var doc struct {
		SlowConsumers *int64 `json:"slow_consumers"`
		Connections   *int   `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return varz{}, fmt.Errorf("GET %s: %w", v.url, err)
	}
	if doc.SlowConsumers == nil || doc.Connections == nil {
		return varz{}, fmt.Errorf("GET %s: no slow_consumers or connections field", v.url)
	}
	return varz{SlowConsumers: *doc.SlowConsumers, Connections: *doc.Connections}, nil
}

// readWithin retries read until it answers or timeout passes.
func (v *varzClient) readWithin(ctx context.Context, timeout time.Duration) (varz, error) {
	deadline := time.Now().Add(timeout)
	for {
		d, err := v.read(ctx)
		if err == nil || time.Now().After(deadline) {
			return d, err
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return varz{}, err
		}
	}
}

// watch polls /varz every varzEvery until slow_consumers rises above base's
// or connections falls below base's (-1 watches only slow_consumers), or end
// passes. It returns the last document (base if no poll answered) and when
// the change showed, zero if it did not. A failed poll (a busy broker may
// miss the 1 s limit) is skipped; only ctx ends the watch early.
func (v *varzClient) watch(ctx context.Context, base varz, end time.Time) (varz, time.Time, error) {
	tick := time.NewTicker(varzEvery)
	defer tick.Stop()
	last := base
	for {
		if d, err := v.read(ctx); err == nil {
			last = d
			if d.SlowConsumers > base.SlowConsumers || d.Connections < base.Connections {
				return d, time.Now(), nil
			}
		} else if ctx.Err() != nil {
			return last, time.Time{}, ctx.Err()
		}
		if !time.Now().Before(end) {
			return last, time.Time{}, nil
		}
		select {
		case <-ctx.Done():
			return last, time.Time{}, ctx.Err()
		case <-tick.C:
		}
	}
}
